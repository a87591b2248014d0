// Quick exit, improved when JavaScript runs: the page is replaced in history
// (Back does not return here) and Esc pressed three times leaves too. Without
// JavaScript the button is an ordinary link and still works.
(function () {
  'use strict';
  var link = document.querySelector('[data-quick-exit]');
  if (!link) return;
  var target = link.getAttribute('href');
  function leave(event) {
    if (event) event.preventDefault();
    document.body.style.display = 'none';
    window.location.replace(target);
  }
  link.addEventListener('click', leave);
  var presses = 0;
  var timer = null;
  document.addEventListener('keydown', function (event) {
    if (event.key !== 'Escape') return;
    presses += 1;
    clearTimeout(timer);
    timer = setTimeout(function () { presses = 0; }, 1500);
    if (presses >= 3) leave();
  });
})();
