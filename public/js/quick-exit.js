// Quick exit, improved when JavaScript runs. The link goes to /{lang}/exit,
// which ends the session, clears what the browser kept of the site and
// redirects to an ordinary website; it works without JavaScript too. Here,
// the page is also hidden at once and replaced in history (Back does not
// return to it), and Esc pressed three times leaves the same way.
(function () {
  'use strict';
  var link = document.querySelector('[data-quick-exit]');
  if (!link) return;
  var target = link.getAttribute('href');
  function leave(event) {
    if (event) event.preventDefault();
    document.documentElement.style.display = 'none';
    window.location.replace(target);
  }
  link.addEventListener('click', leave);
  var presses = 0;
  var timer = null;
  document.addEventListener('keydown', function (event) {
    if (event.key !== 'Escape') return;
    presses += 1;
    clearTimeout(timer);
    timer = setTimeout(function () {
      presses = 0;
    }, 1500);
    if (presses >= 3) leave();
  });
  // The shortcut works now, so the hint may mention it.
  var plain = document.querySelector('[data-quick-exit-hint]');
  var withKeys = document.querySelector('[data-quick-exit-hint-keys]');
  if (plain && withKeys) {
    plain.hidden = true;
    withKeys.hidden = false;
  }
})();
