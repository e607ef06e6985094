"""The CSS and JavaScript of the HTML explanation view (inlined: a report loads nothing).

Every rule is scoped under ``.spex-report`` so that the view can sit inside a notebook or
another page. The script binds to the ``.spex-report`` element just before it and does four
things: it shows the details of whatever word or list row is hovered, focused (Tab) or tapped in
one live region of fixed height (so that nothing moves under the pointer; on a narrow screen it
floats over the bottom of the screen, and what was chosen is scrolled up above it); it marks the
members of the active group in the text, numbering them, and draws an arc between two members
only when both are on the same visual line (an arc across lines runs over the words, so there
the numbers alone link them); it switches between explained classes; and it redraws after a
resize, since the text reflows.
"""

from __future__ import annotations

CSS = """
.spex-report { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif;
  font-size: 16px; line-height: 1.45; color: #1d1d1f; max-width: 1180px; margin: 0 auto;
  box-sizing: border-box; overflow-wrap: anywhere; }
.spex-report *, .spex-report *::before, .spex-report *::after { box-sizing: inherit; }
/* a host page (a notebook) may size these elements itself: inside the report they follow it */
.spex-report p, .spex-report li, .spex-report ul, .spex-report ol, .spex-report dl,
.spex-report dt, .spex-report dd, .spex-report summary, .spex-report q, .spex-report mark,
.spex-report section, .spex-report div { font-size: 1em; }
.spex-report h1 { font-size: 1.35em; margin: 0.2em 0 0.5em; line-height: 1.25; }
.spex-report h2 { font-size: 1.1em; margin: 1.1em 0 0.4em; }
.spex-report p { margin: 0.35em 0; }
.spex-report .spex-answer { background: #f4f5f7; border-radius: 8px; padding: 12px 16px; }
.spex-report .spex-answer p { margin: 0.45em 0; }
.spex-report .spex-headline { font-size: 1.15em; }
.spex-report .spex-probs { display: grid; grid-template-columns: minmax(4em, max-content) 1fr
  auto; gap: 2px 10px; align-items: center; max-width: 560px; margin: 0.3em 0 0.6em;
  font-size: 0.875em; }
.spex-report .spex-probs .track { background: #dde0e5; height: 10px; border-radius: 5px; }
.spex-report .spex-probs .fill { display: block; background: #555b66; height: 10px;
  border-radius: 5px; }
.spex-report .spex-probs .is-target { font-weight: 600; }
.spex-report .spex-probs .is-target .fill { background: #1d1d1f; }
.spex-report .spex-note { color: #4a4f57; font-size: 0.875em; }
.spex-report .num { font-variant-numeric: tabular-nums; white-space: nowrap; }
.spex-report code { white-space: nowrap; }
.spex-report .pos-text { color: #b2182b; font-weight: 600; }
.spex-report .neg-text { color: #2166ac; font-weight: 600; }
.spex-report .spex-switch { display: flex; flex-wrap: wrap; gap: 6px; align-items: center;
  margin: 0.6em 0; }
.spex-report .spex-switch button { font: inherit; font-size: 0.95em; padding: 6px 12px;
  border: 1px solid #8a8f98; background: #fff; border-radius: 16px; cursor: pointer;
  min-height: 36px; }
.spex-report .spex-switch button[aria-pressed='true'] { background: #1d1d1f; color: #fff;
  border-color: #1d1d1f; }
.spex-report .spex-main { display: grid; grid-template-columns: minmax(0, 1fr); gap: 0 28px; }
@media (min-width: 900px) {
  .spex-report .spex-main { grid-template-columns: minmax(0, 3fr) minmax(300px, 2fr); }
  .spex-report .spex-side { position: sticky; top: 8px; align-self: start; }
}
.spex-report .spex-legend { display: flex; flex-wrap: wrap; gap: 4px 16px; font-size: 0.875em;
  margin: 0.2em 0 0.6em; }
.spex-report .spex-legend .sw { display: inline-block; width: 1.1em; height: 1.1em;
  border-radius: 3px; vertical-align: -0.2em; margin-right: 5px; }
.spex-report .spex-box { position: relative; }
.spex-report .spex-text { line-height: 2.35; font-size: 1.05em; margin: 0; padding-top: 0.4em; }
.spex-report .w, .spex-report .row { -webkit-tap-highlight-color: transparent; }
.spex-report .spex-text .w { padding: 0.1em 0.07em; border-radius: 3px; cursor: pointer;
  -webkit-box-decoration-break: clone; box-decoration-break: clone; outline-offset: 1px;
  position: relative; }
.spex-report .spex-text .w.g { text-decoration: underline; text-decoration-style: dotted;
  text-decoration-thickness: 2px; text-underline-offset: 0.2em; }
.spex-report .spex-text .gap { color: #6b7079; }
.spex-report .w:focus-visible, .spex-report .row:focus-visible,
.spex-report button:focus-visible { outline: 3px solid #f0a202; outline-offset: 2px; }
.spex-report .spex-text .w.on { outline: 3px solid #1d1d1f; }
.spex-report .spex-text .w.rel { outline: 2px dashed #1d1d1f; }
.spex-report .spex-text .w[data-badge]::after { content: attr(data-badge); position: absolute;
  top: -1.05em; left: 50%; transform: translateX(-50%); font-size: 12px; line-height: 1;
  font-weight: 700; background: #1d1d1f; color: #fff; border-radius: 7px; padding: 1px 4px;
  pointer-events: none; }
.spex-report svg.spex-arcs { position: absolute; left: 0; top: 0; width: 100%; height: 100%;
  pointer-events: none; overflow: visible; }
.spex-report .spex-top { list-style: none; padding: 0; margin: 0.3em 0; }
.spex-report .spex-top .row { display: grid; grid-template-columns: 1.8em minmax(0, 1fr)
  auto; gap: 2px 8px; align-items: start; padding: 6px 6px; border-radius: 6px;
  cursor: pointer; border-bottom: 1px solid #e6e8eb; }
.spex-report .spex-top .row:hover, .spex-report .spex-top .row.on { background: #eef0f3; }
.spex-report .spex-top .row.rel { background: #f6f7f9; }
.spex-report .spex-top .rank { color: #4a4f57; text-align: right; }
.spex-report .spex-top .words { min-width: 0; }
.spex-report .spex-top .kind { color: #4a4f57; font-size: 0.8125em; }
.spex-report .spex-top .val { text-align: right; }
.spex-report .spex-top .bar { grid-column: 2 / 4; height: 6px; background: #eceef1;
  border-radius: 3px; }
.spex-report .spex-top .bar i { display: block; height: 6px; border-radius: 3px; }
/* a fixed height: details of different lengths must not move the list under the pointer */
.spex-report .spex-detail { background: #fffef5; border: 1px solid #d9d3a8;
  border-radius: 8px; padding: 8px 12px; margin: 10px 0; height: 10.5em; overflow-y: auto;
  font-size: 0.9375em; }
.spex-report .spex-detail p { margin: 0.15em 0; }
.spex-report .spex-detail ul { margin: 0.2em 0; padding-left: 1.2em; }
.spex-report .spex-detail .close { display: none; }
@media (max-width: 899px) {
  /* one column: the details float over the bottom of the screen while something is chosen,
     so a tapped word or row and its details are seen together */
  .spex-report .spex-detail { display: none; }
  .spex-report .spex-view.has .spex-detail { display: block; position: fixed; left: 8px;
    right: 8px; bottom: 8px; z-index: 10; height: auto; max-height: 45vh; margin: 0;
    box-shadow: 0 -2px 12px rgba(0, 0, 0, 0.18); }
  .spex-report .spex-view.has { padding-bottom: 45vh; }
  .spex-report .spex-detail .close { display: block; float: right; font: inherit;
    font-size: 0.875em; min-height: 32px; margin: 0 0 4px 8px; border: 1px solid #8a8f98;
    background: #fff; border-radius: 6px; cursor: pointer; }
}
.spex-report details { margin-top: 1.2em; }
.spex-report summary { cursor: pointer; font-weight: 600; min-height: 32px; }
.spex-report dl.spex-meta { display: grid; grid-template-columns: max-content minmax(0, 1fr);
  gap: 2px 14px; font-size: 0.875em; margin: 0.5em 0; }
.spex-report dl.spex-meta dt { color: #4a4f57; }
.spex-report dl.spex-meta dd { margin: 0; }
.spex-report .spex-png { max-width: 100%; height: auto; }
@media (max-width: 520px) {
  .spex-report { font-size: 15px; }
  .spex-report .spex-answer { padding: 10px 12px; }
  .spex-report dl.spex-meta { grid-template-columns: minmax(0, 1fr); }
  .spex-report dl.spex-meta dd { margin-bottom: 4px; }
}
"""

JS = r"""
(function () {
  var me = document.currentScript;
  var root = me && me.previousElementSibling;
  if (!root || !root.classList || !root.classList.contains('spex-report')) {
    root = document.getElementById('__ROOT_ID__');
  }
  if (!root || root.getAttribute('data-bound')) return;
  root.setAttribute('data-bound', '1');
  var SVG = 'http://www.w3.org/2000/svg';

  function each(list, fn) { Array.prototype.forEach.call(list, fn); }
  function players(el) {
    var s = el.getAttribute('data-players') || el.getAttribute('data-p') || '';
    return s.split(' ').filter(function (x) { return x !== ''; });
  }

  function clear(view) {
    each(view.querySelectorAll('.on, .rel'), function (e) { e.classList.remove('on', 'rel'); });
    each(view.querySelectorAll('[data-badge]'), function (e) { e.removeAttribute('data-badge'); });
    var svg = view.querySelector('svg.spex-arcs');
    if (svg) while (svg.firstChild) svg.removeChild(svg.firstChild);
  }

  function word(view, p) { return view.querySelector('.spex-text .w[data-p="' + p + '"]'); }

  // An arc only joins two members on the same line: across lines it would cross the text.
  function drawArcs(view, row) {
    var svg = view.querySelector('svg.spex-arcs');
    var box = view.querySelector('.spex-box');
    if (!svg || !box) return;
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var origin = box.getBoundingClientRect();
    var rects = players(row).map(function (p) {
      var w = word(view, p);
      var r = w && w.getClientRects()[0];
      return r ? { x: (r.left + r.right) / 2 - origin.left, y: r.top - origin.top,
                   h: r.height } : null;
    }).filter(function (r) { return r; });
    var colour = row.getAttribute('data-colour') || '#1d1d1f';
    for (var i = 0; i + 1 < rects.length; i++) {
      var a = rects[i], b = rects[i + 1];
      if (Math.abs(a.y - b.y) > a.h / 2) continue;
      var lift = Math.min(a.h * 0.75, 6 + Math.abs(b.x - a.x) * 0.12);
      var path = document.createElementNS(SVG, 'path');
      path.setAttribute('d', 'M ' + a.x + ' ' + a.y + ' C ' + a.x + ' ' + (a.y - lift) + ' ' +
                        b.x + ' ' + (b.y - lift) + ' ' + b.x + ' ' + b.y);
      path.setAttribute('fill', 'none');
      path.setAttribute('stroke', colour);
      path.setAttribute('stroke-width', '2.5');
      path.setAttribute('stroke-linecap', 'round');
      svg.appendChild(path);
    }
  }

  function activate(el) {
    var view = el.closest('.spex-view');
    if (!view) return;
    clear(view);
    el.classList.add('on');
    var body = view.querySelector('.spex-detail .body');
    var source = el.querySelector('template.d');
    if (body && source) body.innerHTML = source.innerHTML;
    view.classList.add('has');
    uncover(view, el);
    if (el.classList.contains('row')) {
      players(el).forEach(function (p, i) {
        var w = word(view, p);
        if (!w) return;
        w.classList.add('on');
        if (players(el).length > 1) w.setAttribute('data-badge', i + 1);
      });
      view.activeRow = el;
      drawArcs(view, el);
    } else {
      view.activeRow = null;
      var p = el.getAttribute('data-p');
      each(view.querySelectorAll('.spex-top .row'), function (row) {
        if (players(row).indexOf(p) >= 0) {
          row.classList.add('rel');
          players(row).forEach(function (q) {
            var w = word(view, q);
            if (w && w !== el) w.classList.add('rel');
          });
        }
      });
    }
  }

  // On a narrow screen the details float over the bottom of the screen: scroll what was
  // chosen up above them (its top stays on screen), so the two are seen together.
  function uncover(view, el) {
    var panel = view.querySelector('.spex-detail');
    if (!panel || getComputedStyle(panel).position !== 'fixed') return;
    var r = el.getBoundingClientRect(), top = panel.getBoundingClientRect().top;
    var by = Math.min(r.bottom - top + 8, r.top - 8);
    if (r.bottom > top && by > 0) window.scrollBy(0, by);
  }

  function reset(view) {
    root.activeEl = null;
    clear(view);
    view.activeRow = null;
    view.classList.remove('has');
    var body = view.querySelector('.spex-detail .body');
    var hint = view.querySelector('template.hint');
    if (body && hint) body.innerHTML = hint.innerHTML;
  }

  // Hover follows real pointer movement only: a focus (Tab) that scrolls the page must not
  // hand the details to whatever element scrolls under a resting pointer.
  function show(el) {
    if (root.activeEl === el) return;
    root.activeEl = el;
    activate(el);
  }
  each(root.querySelectorAll('.w[tabindex], .row[tabindex]'), function (el) {
    el.addEventListener('mousemove', function () { show(el); });
    el.addEventListener('focus', function () { show(el); });
    el.addEventListener('click', function () { show(el); });
    el.addEventListener('keydown', function (ev) {
      if (ev.key === 'Escape') reset(el.closest('.spex-view'));
    });
  });
  each(root.querySelectorAll('.spex-detail .close'), function (button) {
    button.addEventListener('click', function () { reset(button.closest('.spex-view')); });
  });

  each(root.querySelectorAll('.spex-switch button'), function (button) {
    button.addEventListener('click', function () {
      var target = button.getAttribute('data-view');
      each(root.querySelectorAll('.spex-switch button'), function (b) {
        b.setAttribute('aria-pressed', b === button ? 'true' : 'false');
      });
      each(root.querySelectorAll('.spex-view'), function (v) {
        v.hidden = v.getAttribute('data-view') !== target;
      });
    });
  });

  var pending = null;
  window.addEventListener('resize', function () {
    if (pending) return;
    pending = window.requestAnimationFrame(function () {
      pending = null;
      each(root.querySelectorAll('.spex-view'), function (v) {
        if (v.activeRow) drawArcs(v, v.activeRow);
      });
    });
  });
})();
"""
