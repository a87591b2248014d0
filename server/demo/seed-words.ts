/**
 * What the fictional caseworkers and reporters of `harbour seed --demo` write
 * (seed-story.ts picks from these). Plain and calm, like real casework, and
 * fictional by design: no real person, place of work or reference number.
 */

export const STAFF_FIRST = [
  'Thank you for telling us about this. A caseworker has read your report. You can reply here at any time with your receipt; we will not contact you any other way unless you ask us to.',
  'Thank you for writing to us. We have read your report carefully. Could you tell us roughly when this started, and whether it has happened more than once?',
  'Thank you for trusting us with this. Before we suggest next steps: are you safe at the moment, and is there a time of day that is better for you to read our messages?',
];

export const STAFF_FOLLOW_UP = [
  'We have some practical advice on keeping your phone and accounts safe. Would a short call help? We can arrange an interpreter.',
  'Thank you for the extra detail. We have saved it securely with your report. Please keep any new messages you receive, with their dates.',
  'Just checking in: has anything changed since we last wrote? There is no need to reply if nothing has happened.',
  'We have spoken with a colleague who works with families in a similar situation. If you would like, we can explain the options in your own language.',
  'If you decide you would like to report this to the police, we can help you prepare and come with you. It is your choice, and there is no hurry.',
];

export const STAFF_AFTER_REFERRAL = [
  'As we agreed, we have passed your report to the police. They gave us a reference number, which we can share with you whenever you want it.',
  'We have made the referral we discussed. The officer may ask us questions first; we will tell you before anyone contacts you directly.',
];

export const STAFF_CLOSING = [
  'We are closing this case for now. If anything else happens, you can write here with your receipt and we will read it.',
  'Thank you for working with us. We are closing the case, but your report stays with us and you can reply here at any time.',
];

export const REPORTER_ADDS = [
  'I forgot to say in my report that it happened again yesterday, near where I work.',
  'I want to add that my cousin received a similar message last month.',
  'I found more screenshots. I can send them if that helps.',
];

export const REPORTER_REPLIES = [
  'Thank you for replying. It started in the spring and the messages came from two different accounts.',
  'Yes, a call would help. Evenings are better for me.',
  'Nothing new this week. I feel a little safer knowing someone has read this.',
  'Please do not contact my family. I will write here when I can.',
  'Thank you. I changed my passwords and turned on two-step verification as you suggested.',
];

export const NOTES = [
  'Spoke with the reporter by Signal. Safe for now; wants advice on securing accounts before anything else.',
  'Checked our earlier cases: two similar reports involving the same association this year. Linked in our weekly review.',
  'Reporter prefers contact in the evenings. Interpreter booked for the next call.',
  'Sent the digital security checklist. Reporter will reset passwords and check which devices are signed in.',
  'Family member abroad was questioned again last week. Reporter does not want police contact at this stage.',
  'Discussed the options: a police report, keeping a record, or support only. Reporter will think about it and write back.',
  'Screenshots received through the status page; dates match the account given in the report.',
  'Suggested a local support group; reporter asked us to pass on no details.',
];

export const REFERRAL_NOTES = [
  'Reporter agreed on the call that we pass the report to the police. Agreed what may be shared: the report and the screenshots, not the contact details.',
  'Risk assessment with a colleague: the threat is specific and recent. Decided to refer today.',
];

export const CLOSING_NOTES = [
  'Closing: the contact has stopped for three months and the reporter has our details if it starts again.',
  'Closing after the last call. Reporter thanked the team; no further action wanted.',
  'No reply to our last three messages over six weeks. Closing; the case can be reopened if they write again.',
];

export const OVERRIDE_REASONS = [
  'The reporter described a specific threat to their safety this week. We judged there is a risk to life and informed the police without waiting for consent.',
  'A child in the family was named in the threat. Safeguarding duty applies; referred without consent after discussion with the team lead.',
];
