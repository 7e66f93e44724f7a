// What the pages do beyond showing themselves. The page reads the same without
// this script; with it, the reader can
// * click a name in the code, or in code in the notes, to highlight everywhere
//   it is used on the page (click it again, or anywhere else, to clear),
// * copy a code section or a command with one button, without line numbers,
// * find a heading or a definition in the page's table of contents,
// * search every page of the site, from the index built with it,
// * click an image, or press Enter on it, to see it as large as the screen,
// * read a display formula a little too wide for the notes without scrolling.
(function () {
  var japanese = document.documentElement.lang === 'ja';
  var words = japanese
    ? {copy: 'コピー', copied: 'コピーしました', contents: '目次', search: '検索',
       nothing: '見つかりません', noIndex: '検索インデックスがありません', close: '閉じる'}
    : {copy: 'Copy', copied: 'Copied', contents: 'On this page', search: 'Search',
       nothing: 'Nothing found', noIndex: 'No search index', close: 'Close'};
  // The top of the site, where the script and the search index are
  var script = document.currentScript;
  var root = script ? script.src.replace(/literate\.js(\?.*)?$/, '') : '';

  function element(tag, attributes, children) {
    var e = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (k) { e.setAttribute(k, attributes[k]); });
    (children || []).forEach(function (c) {
      e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return e;
  }

  // The page in another language has the same anchors: its link leads to the
  // section being read. That is the one the address names, as long as it is
  // in the window, or else the section a quarter of the way down the window,
  // so that plain scrolling moves it too
  var languages = document.querySelectorAll('.bar .links a[hreflang]');
  var sections = document.querySelectorAll('main .section[id]');
  function named() {
    var id = decodeURIComponent(location.hash.slice(1));
    return id ? document.getElementById(id) : null;
  }
  function beingRead() {
    var target = named();
    var box = target && target.getBoundingClientRect();
    if (box && box.bottom > 0 && box.top < window.innerHeight) return location.hash;
    if (window.scrollY <= 0) return '';
    var line = window.innerHeight / 4;
    var found = '';
    for (var i = 0; i < sections.length && sections[i].getBoundingClientRect().top <= line; i++) {
      found = '#' + encodeURIComponent(sections[i].id);
    }
    return found;
  }
  function carrySection(hash) {
    languages.forEach(function (link) {
      link.href = link.href.split('#')[0] + hash;
    });
  }
  // Before the browser has scrolled to the section the address names, that section
  carrySection(named() ? location.hash : '');
  window.addEventListener('hashchange', function () { carrySection(named() ? location.hash : beingRead()); });
  var scrolling = false;
  window.addEventListener('scroll', function () {
    if (scrolling) return;
    scrolling = true;
    requestAnimationFrame(function () {
      scrolling = false;
      carrySection(beingRead());
    });
  }, {passive: true});

  // Names: click one to mark it wherever it is used
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

  // A wrapped line continues further in than where its own code starts. The
  // indent goes in a box of its own, which the style sheet narrows when it is
  // deep; the spaces stay in the text, so copying keeps them
  // A long line may also break after a bracket, a dot or a comma, as one
  // would break it by hand, and not only at its spaces
  document.querySelectorAll('.code .line').forEach(function (line) {
    if (line.textContent.length > 40) {
      line.querySelectorAll('.p, .o').forEach(function (mark) {
        if (/[.([{,]$/.test(mark.textContent)) mark.after(document.createElement('wbr'));
      });
    }
    var first = line.firstChild;
    var indent = first && first.nodeType === 3 ? /^ */.exec(first.textContent)[0].length : 0;
    if (!indent) return;
    line.style.setProperty('--indent', indent + 'ch');
    first.splitText(indent);
    line.replaceChild(element('span', {'class': 'indent'}, [first.textContent]), first);
  });

  // Copy buttons: the text is the code's own, so line numbers, drawn by the
  // style sheet, are never in it
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    var area = element('textarea', {readonly: '', style: 'position: fixed; opacity: 0'});
    area.value = text;
    document.body.appendChild(area);
    area.select();
    var copied = document.execCommand('copy');
    area.remove();
    return copied ? Promise.resolve() : Promise.reject(new Error('copy refused'));
  }
  function addCopyButton(box, text) {
    var button = element('button', {type: 'button', 'class': 'copy'}, [words.copy]);
    button.addEventListener('click', function (event) {
      event.stopPropagation();
      copyText(text()).then(function () {
        button.textContent = words.copied;
        button.classList.add('done');
        setTimeout(function () {
          button.textContent = words.copy;
          button.classList.remove('done');
        }, 1500);
      });
    });
    box.insertBefore(button, box.firstChild);
  }
  document.querySelectorAll('.code').forEach(function (code) {
    var lines = code.querySelectorAll('.line');
    if (!lines.length) return;
    addCopyButton(code, function () {
      return Array.prototype.map.call(lines, function (l) { return l.textContent; }).join('\n') + '\n';
    });
  });
  document.querySelectorAll('.notes pre').forEach(function (pre) {
    var code = pre.querySelector('code') || pre;
    addCopyButton(pre, function () { return code.textContent; });
  });

  // A heading as the table of contents shows it: its formulas typeset (`T²`,
  // not `T2`), its links plain text, since the entry is a link itself
  function labelOf(heading) {
    var label = element('span');
    heading.childNodes.forEach(function (node) {
      if (!(node.classList && node.classList.contains('anchor'))) label.appendChild(node.cloneNode(true));
    });
    label.querySelectorAll('a').forEach(function (a) { a.replaceWith(element('span', {}, [a.textContent])); });
    label.querySelectorAll('[id]').forEach(function (e) { e.removeAttribute('id'); });
    return label;
  }
  // A long name breaks only between its words, never inside one: after a dot
  // (`DistillationLoss.` `__init__`), after an inner underscore
  // (`fused_` `linear_` `loss`) or before an inner capital (`Fused` `Linear`)
  function nameLabel(name) {
    var code = element('code');
    var marked = name.replace(/\./g, '.\u0000').replace(/([A-Za-z0-9])_(?=[A-Za-z0-9])/g, '$1_\u0000')
      .replace(/([a-z])(?=[A-Z])/g, '$1\u0000');
    marked.split('\u0000').forEach(function (part, i) {
      if (i) code.append(element('wbr'));
      code.append(part);
    });
    return code;
  }

  // The table of contents: the headings of the notes, and under them the
  // definitions that have a section of their own (their anchor is their name)
  var entries = [];
  var level = 1;
  document.querySelectorAll('main .section').forEach(function (section) {
    // The k-th heading of a section is `#<section>-<k>`, as the search index has it
    section.querySelectorAll('.notes h1, .notes h2, .notes h3').forEach(function (heading, k) {
      if (!heading.id) heading.id = section.id + '-' + (k + 1);
      level = Number(heading.tagName[1]);
      entries.push({level: level, label: labelOf(heading), id: heading.id});
    });
    if (!/^section-\d+$/.test(section.id) && section.querySelector('.code .line')) {
      entries.push({level: Math.min(level + 1, 4), name: section.id, id: section.id});
    }
  });
  if (entries.length > 1) {
    var list = element('ol', {}, entries.map(function (entry) {
      var label = entry.name ? nameLabel(entry.name) : entry.label;
      return element('li', {'class': 'level-' + entry.level + (entry.name ? ' definition' : '')},
                     [element('a', {href: '#' + encodeURIComponent(entry.id)}, [label])]);
    }));
    var details = element('details', {}, [element('summary', {}, [words.contents]), list]);
    var toc = element('nav', {'class': 'toc', 'aria-label': words.contents}, [details]);
    var main = document.querySelector('main');
    main.parentNode.insertBefore(toc, main);
    document.body.classList.add('has-toc');
    // Open beside the notes on a wide screen, folded on a narrow one
    var wide = window.matchMedia('(min-width: 1280px)');
    details.open = wide.matches;
    wide.addEventListener('change', function () { details.open = wide.matches; });
    details.addEventListener('toggle', function () { if (wide.matches) details.open = true; });
    list.addEventListener('click', function (event) {
      if (event.target.closest('a') && !wide.matches) details.open = false;
    });
  }

  // A display formula a little wider than the notes is drawn smaller to fit,
  // down to 70%; a wider one scrolls. Measured again when its width changes.
  function fit(box) {
    box.style.fontSize = '';
    var ratio = box.clientWidth / box.scrollWidth;
    if (ratio < 1 && ratio >= 0.7) box.style.fontSize = Math.floor(ratio * 100) / 100 + 'em';
  }
  var formulas = document.querySelectorAll('.math-display');
  formulas.forEach(fit);
  if (window.ResizeObserver) {
    var resized = new ResizeObserver(function (changes) {
      changes.forEach(function (change) { fit(change.target); });
    });
    formulas.forEach(function (box) { resized.observe(box); });
  }
  // An inline formula cannot break across lines: one wider than its
  // paragraph is drawn smaller, down to 70%, and a wider one still scrolls in
  // a box of its own, so that the page never scrolls sideways
  var inline = Array.prototype.filter.call(document.querySelectorAll('.notes .katex'), function (formula) {
    return !formula.closest('.math-display');
  });
  function fitInline() {
    inline.forEach(function (formula) {
      formula.style.fontSize = '';
      formula.classList.remove('scroll');
      // With the punctuation that breaks with it
      var piece = formula.parentNode.classList.contains('nobreak') ? formula.parentNode : formula;
      var room = piece.parentNode.closest('p, li, td, th, div').clientWidth;
      var width = piece.getBoundingClientRect().width;
      if (width <= room) return;
      if (width * 0.7 <= room) formula.style.fontSize = Math.floor(room / width * 100) / 100 + 'em';
      else formula.classList.add('scroll');
    });
  }
  fitInline();
  window.addEventListener('resize', fitInline);

  // On a page of notes only, the column is narrower than the window: a table
  // that would be wider than the column, its cells unwrapped, spreads into the
  // room beside it, as far on each side, rather than hide its last columns or
  // wrap its row labels into a narrow column. On any page, a table still a
  // little wider than its room is drawn smaller to fit, down to 80%; only a
  // wider one scrolls in its box
  var notesOnly = !document.querySelector('.code .line');
  var tables = document.querySelectorAll('.notes table');
  function fitTables() {
    var main = document.querySelector('main');
    tables.forEach(function (table) {
      table.style.removeProperty('--bleed');
      table.style.fontSize = '';
      if (notesOnly) {
        table.style.maxWidth = 'none';
        var wanted = table.offsetWidth;
        table.style.maxWidth = '';
        var spare = table.getBoundingClientRect().left - main.getBoundingClientRect().left - 16;
        var extra = Math.min(wanted - table.clientWidth, 2 * spare);
        if (extra > 1) table.style.setProperty('--bleed', Math.ceil(extra / 2) + 'px');
      }
      // In fiftieths of the font size, 49 to 40: counted in whole steps, 80% is reached
      // (0.98 less nine steps of 0.02 in floating point stops short of it)
      for (var step = 49; step >= 40 && table.scrollWidth > table.clientWidth + 1; step--) {
        table.style.fontSize = (step / 50).toFixed(2) + 'em';
      }
    });
  }
  if (tables.length) {
    fitTables();
    window.addEventListener('resize', fitTables);
    // Again once the fonts are in: a Japanese font loaded late makes a table wider
    if (document.fonts) document.fonts.ready.then(fitTables);
  }

  // Images: a click, or Enter on one reached with Tab, shows it as large as
  // the screen; its close button, a click anywhere or Escape closes it, and
  // the keyboard is back on the image
  var zoomed = null;
  function closeZoom() {
    if (!zoomed) return;
    var image = zoomed.image;
    zoomed.remove();
    zoomed = null;
    image.focus();
  }
  function openZoom(image) {
    closeZoom();
    var copy = element('img', {src: image.currentSrc || image.src, alt: image.alt});
    var close = element('button', {type: 'button', 'class': 'close', 'aria-label': words.close}, ['×']);
    zoomed = element('div', {'class': 'zoom', role: 'dialog', 'aria-modal': 'true', 'aria-label': image.alt},
                     [close, copy]);
    zoomed.image = image;
    zoomed.addEventListener('click', closeZoom);
    document.body.appendChild(zoomed);
    close.focus();
  }
  document.querySelectorAll('.notes img').forEach(function (image) {
    image.setAttribute('tabindex', '0');
    image.setAttribute('role', 'button');
    image.addEventListener('click', function (event) {
      event.stopPropagation();
      openZoom(image);
    });
    image.addEventListener('keydown', function (event) {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        openZoom(image);
      }
    });
  });
  document.addEventListener('keydown', function (event) {
    if (event.key === 'Escape') closeZoom();
    // The close button is all there is to reach while the image is shown
    if (event.key === 'Tab' && zoomed) {
      event.preventDefault();
      zoomed.querySelector('.close').focus();
    }
  });

  // Search, over the index of the page's language that the site builder
  // writes (`search-index.js`, `ja/search-index.js`). The index is a script
  // that sets a global, so that it loads from a folder on disk too, where a
  // page may not fetch a file.
  var bar = document.querySelector('.bar');
  if (!bar) return;
  var input = element('input', {type: 'search', placeholder: words.search, 'aria-label': words.search,
                                autocomplete: 'off', spellcheck: 'false'});
  var results = element('ol', {'aria-live': 'polite'});
  var search = element('div', {'class': 'search', role: 'search'}, [input, results]);
  bar.insertBefore(search, bar.querySelector('.links'));
  var loading = null;
  function loadIndex() {
    if (!loading) {
      loading = new Promise(function (resolve) {
        if (window.LITERATE_SEARCH) return resolve(window.LITERATE_SEARCH);
        // Each language has its own index, in its own folder
        var folder = document.documentElement.lang === 'en' ? '' : document.documentElement.lang + '/';
        var tag = element('script', {src: root + folder + 'search-index.js'});
        tag.onload = function () { resolve(window.LITERATE_SEARCH || null); };
        tag.onerror = function () { resolve(null); };
        document.head.appendChild(tag);
      });
    }
    return loading;
  }
  function snippet(text, terms) {
    var lower = text.toLowerCase();
    var at = lower.indexOf(terms[0]);
    if (at < 0) return null;
    var start = Math.max(0, at - 40);
    var piece = (start ? '…' : '') + text.slice(start, at + 80) + (at + 80 < text.length ? '…' : '');
    var said = element('span', {'class': 'said'});
    var pattern = new RegExp('(' + terms.map(function (t) {
      return t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    }).join('|') + ')', 'gi');
    piece.split(pattern).forEach(function (part, i) {
      said.appendChild(i % 2 ? element('mark', {}, [part]) : document.createTextNode(part));
    });
    return said;
  }
  // Every word of the query must be in the section; a word in the page's
  // title, a heading or a name counts more than one in the text
  function find(index, query) {
    var terms = query.toLowerCase().split(/\s+/).filter(Boolean);
    if (!terms.length) return [];
    var found = [];
    index.pages.forEach(function (page) {
      page.sections.forEach(function (section) {
        var fields = [[page.title, 8], [section.heading || '', 4], [section.name || '', 4], [section.text, 1]];
        var score = 0;
        var all = terms.every(function (term) {
          var hits = fields.filter(function (f) { return f[0].toLowerCase().indexOf(term) >= 0; });
          hits.forEach(function (f) { score += f[1]; });
          return hits.length > 0;
        });
        if (!all) return;
        found.push({page: page, section: section, score: score});
      });
    });
    found.sort(function (a, b) { return b.score - a.score; });
    return found.slice(0, 20).map(function (hit) {
      var where = hit.page.title + (hit.section.heading && hit.section.heading !== hit.page.title
                                    ? ' › ' + hit.section.heading : '');
      var what = hit.section.name ? hit.section.name : where;
      var link = element('a', {href: root + hit.page.url + '#' + encodeURIComponent(hit.section.id)},
                         [element('span', {}, [what])]);
      if (hit.section.name) link.appendChild(element('span', {'class': 'where'}, [where]));
      var said = snippet(hit.section.text, terms);
      if (said) link.appendChild(said);
      return element('li', {}, [link]);
    });
  }
  function show() {
    var query = input.value;
    loadIndex().then(function (index) {
      if (input.value !== query) return;
      results.textContent = '';
      if (!query.trim()) return;
      var items = index ? find(index, query) : [];
      if (!items.length) items = [element('li', {}, [index ? words.nothing : words.noIndex])];
      items.forEach(function (item) { results.appendChild(item); });
    });
  }
  input.addEventListener('input', show);
  input.addEventListener('focus', function () { loadIndex(); if (input.value) show(); });
  input.addEventListener('keydown', function (event) {
    var links = results.querySelectorAll('a');
    if (event.key === 'Enter' && links.length) {
      links[0].click();
    } else if (event.key === 'ArrowDown' && links.length) {
      event.preventDefault();
      links[0].focus();
    } else if (event.key === 'Escape') {
      results.textContent = '';
    }
  });
  results.addEventListener('keydown', function (event) {
    var links = Array.prototype.slice.call(results.querySelectorAll('a'));
    var at = links.indexOf(document.activeElement);
    if (event.key === 'ArrowDown' && at + 1 < links.length) {
      event.preventDefault();
      links[at + 1].focus();
    } else if (event.key === 'ArrowUp') {
      event.preventDefault();
      (at > 0 ? links[at - 1] : input).focus();
    } else if (event.key === 'Escape') {
      results.textContent = '';
      input.focus();
    }
  });
  document.addEventListener('click', function (event) {
    // A result may lead elsewhere on this page: close the list once it has
    if (!search.contains(event.target) || event.target.closest('a')) {
      setTimeout(function () { results.textContent = ''; });
    }
  });
})();
