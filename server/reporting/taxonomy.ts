/** Fixed vocabularies of the report form (docs/product.md). Labels live in the locale files. */
export const CATEGORIES = ['threats', 'surveillance', 'digital', 'family', 'return', 'recruitment', 'station', 'legal', 'other'] as const;
export const TARGETED = ['me', 'family', 'organisation', 'someone_else'] as const;
export const PERPETRATORS = ['official', 'proxy', 'private_investigator', 'online_account', 'unknown'] as const;
export const CHANNELS = ['in_person', 'phone', 'messaging', 'social_media', 'email', 'family'] as const;
export const CONSENT = ['yes', 'no', 'talk_first'] as const;
export const FOLLOW_UP = ['portal', 'contact'] as const;
export const CONTACT_METHODS = ['email', 'phone', 'signal'] as const;
export const ONGOING = ['yes', 'no', 'not_sure'] as const;

export type Category = (typeof CATEGORIES)[number];
