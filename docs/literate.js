// Click a name in the code, or in code in the notes, to highlight everywhere it
// is used on the page; click it again, or anywhere else, to clear. The page
// reads the same without this script.
(function () {
  var names = ['n', 'nf', 'nc', 'nb', 'bp', 'nn', 'ne', 'nd', 'vm', 'fm']
    .map(function (c) { return '.highlight .' + c; }).join(', ');
  var current = null;
  document.addEventListener('click', function (event) {
    var name = event.target.closest ? event.target.closest(names) : null;
    var text = name ? name.textContent : null;
    document.querySelectorAll('.hl').forEach(function (e) { e.classList.remove('hl'); });
    current = text === current ? null : text;
    if (current === null) return;
    document.querySelectorAll(names).forEach(function (e) {
      if (e.textContent === current) e.classList.add('hl');
    });
  });
})();
