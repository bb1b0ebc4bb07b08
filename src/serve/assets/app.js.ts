/**
 * The pages' script, served as /static/app.js. Plain browser JavaScript, no build step.
 * Everything it shows goes in through textContent (never innerHTML), so stored text stays
 * text here too. (Kept free of backticks and dollar-brace: it lives in a template literal.)
 */
export const APP_JS = String.raw`'use strict';
(function () {
  var page = document.body.getAttribute('data-page');

  // Control characters (terminal escapes) and bidi overrides made visible, as the server
  // does for its pages: a reason must not read differently from what it is.
  var INVISIBLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;
  function visible(s) {
    return String(s).replace(INVISIBLE, function (c) {
      var code = c.charCodeAt(0);
      if (code < 0x20) return String.fromCharCode(0x2400 + code);
      if (code === 0x7f) return '\u2421';
      return '\\u' + ('0000' + code.toString(16)).slice(-4);
    });
  }
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = visible(text);
    if (cls) e.className = cls;
    return e;
  }
  function fmtCount(n) { return n === null || n === undefined ? '\u2014' : Number(n).toLocaleString('en-US'); }
  function fmtTime(ts) {
    if (ts === null || ts === undefined) return '\u2014';
    return new Date(ts).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  }
  function fmtAge(ms) {
    if (ms === null || ms === undefined) return '\u2014';
    var s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return s + 's';
    var m = Math.floor(s / 60);
    if (m < 60) return m + 'm ' + (s % 60) + 's';
    var h = Math.floor(m / 60);
    if (h < 48) return h + 'h ' + (m % 60) + 'm';
    return Math.floor(h / 24) + 'd ' + (h % 24) + 'h';
  }
  // A GET, or with a body a JSON POST; a failure rejects with the server's sentence.
  function request(url, body) {
    var init = { headers: { Accept: 'application/json' }, credentials: 'same-origin' };
    if (body !== undefined) {
      init.method = 'POST';
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(function (r) {
      return r.json().then(function (b) {
        if (!r.ok) throw new Error(b && b.error ? b.error : 'HTTP ' + r.status);
        return b;
      });
    });
  }
  // edit.js, loaded after this script on an entry page, sends its requests through this one.
  window.dletter = { request: request };
  // A table of a caption, a head row (the columns at the indexes in nums hold numbers) and one row per item.
  function table(cls, caption, heads, nums, items, row) {
    var t = el('table', null, cls);
    t.appendChild(el('caption', caption));
    var head = el('tr');
    heads.forEach(function (h, i) { head.appendChild(el('th', h, nums.indexOf(i) >= 0 ? 'num' : '')); });
    var thead = el('thead'); thead.appendChild(head); t.appendChild(thead);
    var body = el('tbody');
    items.forEach(function (x) { body.appendChild(row(x)); });
    t.appendChild(body);
    return t;
  }

  // ---------------------------------------------------------------- groups
  function groupTable(key, caption, groups) {
    if (!groups.length) return el('p', caption + ': none', 'muted');
    return table('groups', caption, ['reason group', 'count', 'first seen', 'last seen'], [1], groups, function (g) {
      var tr = el('tr');
      var td = el('td', null, 'reason');
      var label = g.fingerprint.length > 200 ? g.fingerprint.slice(0, 200) + '\u2026' : g.fingerprint;
      if (g.query) {
        var a = el('a', label);
        a.href = '/logs/' + encodeURIComponent(key) + '/entries?' + g.query;
        td.appendChild(a);
      } else td.textContent = visible(label);
      if (g.example !== null && g.example !== g.fingerprint) td.title = 'e.g. ' + visible(g.example);
      tr.appendChild(td);
      tr.appendChild(el('td', fmtCount(g.count), 'num'));
      tr.appendChild(el('td', fmtTime(g.oldestTs)));
      tr.appendChild(el('td', fmtTime(g.newestTs)));
      return tr;
    });
  }

  // ---------------------------------------------------------------- overview
  function hostTable(hosts) {
    return table('hosts', 'per host', ['host', 'pending', 'due now', 'deferred', 'permanent', 'corrupt'], [1, 2, 3, 4, 5], hosts, function (h) {
      var tr = el('tr');
      tr.appendChild(el('td', h.host.length > 100 ? h.host.slice(0, 100) + '…' : h.host));
      ['pending', 'due', 'deferred', 'permanent', 'corrupt'].forEach(function (k) { tr.appendChild(el('td', fmtCount(h[k]), 'num')); });
      return tr;
    });
  }
  function refreshOverview() {
    request('/api/overview').then(function (o) {
      var upd = document.getElementById('updated');
      if (upd) upd.textContent = fmtTime(o.at);
      o.sources.forEach(function (s) {
        var sec = document.querySelector('section.source[data-source="' + CSS.escape(s.key) + '"]');
        if (!sec) return;
        var err = sec.querySelector('[data-k="error"]');
        if (err) { err.hidden = !s.error; err.textContent = s.error || ''; }
        ['pending', 'due', 'deferred', 'permanent', 'corrupt'].forEach(function (k) {
          var cell = sec.querySelector('[data-k="' + k + '"]');
          if (!cell || !s.counts) return;
          var a = cell.querySelector('a');
          (a || cell).textContent = fmtCount(s.counts[k]);
        });
        var hosts = sec.querySelector('[data-k="hosts"]');
        if (hosts && s.counts && s.counts.hosts && s.counts.hosts.length) hosts.replaceChildren(hostTable(s.counts.hosts));
        var oldest = sec.querySelector('[data-k="oldest"]');
        if (oldest) oldest.textContent = fmtAge(s.oldestPendingAgeMs);
        var box = sec.querySelector('[data-k="reasons"]');
        if (box && s.reasons) {
          box.replaceChildren(
            groupTable(s.key, 'retry log', s.reasons.retry),
            groupTable(s.key, 'permanent log', s.reasons.permanent),
            el('p', 'reason groups as of ' + fmtTime(s.reasons.at) + ' (refreshed in the background)', 'muted')
          );
        }
      });
      // The sparklines are drawn on the server: when the numbers moved, take the newer drawing
      // from the page itself (one more request, only then).
      var moved = o.sources.filter(function (s) {
        var rec = document.querySelector('section.source[data-source="' + CSS.escape(s.key) + '"] [data-k="recent"]');
        return rec && rec.getAttribute('data-sig') !== JSON.stringify(s.recentFailures || null);
      });
      if (moved.length) {
        fetch('/', { credentials: 'same-origin', headers: { Accept: 'text/html' } }).then(function (r) { return r.text(); }).then(function (text) {
          var doc = new DOMParser().parseFromString(text, 'text/html');
          moved.forEach(function (s) {
            var sel = 'section.source[data-source="' + CSS.escape(s.key) + '"] [data-k="recent"]';
            var fresh = doc.querySelector(sel);
            var rec = document.querySelector(sel);
            if (fresh && rec) rec.replaceWith(document.adoptNode(fresh));
          });
        }).catch(function () {});
      }
      document.body.setAttribute('data-refreshed', String(o.at));
    }).catch(function (e) {
      var upd = document.getElementById('updated');
      if (upd) upd.textContent = 'refresh failed: ' + e.message;
    });
  }

  // ---------------------------------------------------------------- entries
  function loadGroups() {
    var box = document.getElementById('groups');
    if (!box) return;
    var src = box.getAttribute('data-src');
    var key = decodeURIComponent(src.split('/')[3]);
    request(src).then(function (g) {
      var note = el('p', fmtCount(g.matched) + ' matching entr' + (g.matched === 1 ? 'y' : 'ies') + ' in ' + g.groups.length + ' group' + (g.groups.length === 1 ? '' : 's') + (g.capped ? ' (too many distinct reasons: the rest are lumped together)' : ''), 'muted');
      note.id = 'groups-summary';
      box.replaceChildren(el('h2', 'Groups'), note, groupTable(key, g.groupBy === 'first' ? 'by first reason (the filters match the last reason: no links)' : 'by reason', g.groups));
    }).catch(function (e) {
      box.replaceChildren(el('h2', 'Groups'), el('p', 'could not count the groups: ' + e.message, 'error'));
    });
  }

  // ---------------------------------------------------------------- actions
  function setupActions() {
    var panel = document.getElementById('actions');
    if (!panel) return;
    var api = panel.getAttribute('data-api');
    var filter = JSON.parse(panel.getAttribute('data-filter') || '{}');
    var confirmBox = document.getElementById('confirm');
    var confirmText = document.getElementById('confirm-text');
    var yes = document.getElementById('confirm-yes');
    var no = document.getElementById('confirm-no');
    var progressBox = document.getElementById('progress');
    var bar = progressBox.querySelector('progress');
    var progressText = document.getElementById('progress-text');
    var result = document.getElementById('result');
    var buttons = panel.querySelectorAll('button[data-op]');
    var pending = null;

    function selected() {
      return Array.prototype.map.call(document.querySelectorAll('input.sel:checked'), function (c) { return c.value; });
    }
    function syncSelection() {
      var n = selected().length;
      panel.querySelectorAll('button[data-scope="selected"]').forEach(function (b) {
        b.disabled = n === 0;
        b.textContent = b.textContent.replace(/ \(\d+\)$/, '') + (n ? ' (' + n + ')' : '');
      });
    }
    document.querySelectorAll('input.sel').forEach(function (c) { c.addEventListener('change', syncSelection); });
    function busy(on) { buttons.forEach(function (b) { b.disabled = on || (b.getAttribute('data-scope') === 'selected' && selected().length === 0); }); }
    function body(scope, dryRun) {
      var b = scope === 'selected' ? { kind: filter.kind, ids: selected() } : Object.assign({}, filter);
      b.dryRun = dryRun;
      var reset = document.getElementById('reset-attempts');
      if (pending && pending.op === 'requeue' && reset && reset.checked) b.resetAttempts = true;
      return b;
    }
    function showResult(text, failed) {
      result.hidden = false;
      result.textContent = text;
      result.className = 'result' + (failed ? ' failed' : '');
    }

    buttons.forEach(function (btn) {
      btn.addEventListener('click', function () {
        pending = { op: btn.getAttribute('data-op'), scope: btn.getAttribute('data-scope') };
        result.hidden = true;
        confirmBox.hidden = true;
        busy(true);
        request(api + '/' + pending.op, body(pending.scope, true)).then(function (r) {
          busy(false);
          var n = r.count;
          confirmText.textContent = r.text;
          confirmText.setAttribute('data-count', String(n));
          confirmBox.hidden = false;
          yes.hidden = n === 0;
          yes.textContent = (pending.op === 'requeue' ? 'Requeue ' : 'Purge ') + n + ' entr' + (n === 1 ? 'y' : 'ies');
        }).catch(function (e) { busy(false); showResult(e.message, true); });
      });
    });
    no.addEventListener('click', function () { confirmBox.hidden = true; pending = null; });
    yes.addEventListener('click', function () {
      if (!pending) return;
      var p = pending;
      confirmBox.hidden = true;
      busy(true);
      progressBox.hidden = false;
      bar.removeAttribute('value');
      progressText.textContent = 'starting\u2026';
      request(api + '/' + p.op, body(p.scope, false)).then(function (r) { poll(r.job); })
        .catch(function (e) { progressBox.hidden = true; busy(false); showResult(e.message, true); });
    });
    function poll(id) {
      request('/api/jobs/' + encodeURIComponent(id)).then(function (j) {
        if (j.progress && j.progress.total > 0) {
          bar.max = j.progress.total;
          bar.value = j.progress.done;
          progressText.textContent = fmtCount(j.progress.items) + ' entries read, ' + Math.floor(100 * j.progress.done / j.progress.total) + '%';
        }
        if (j.state === 'running') { setTimeout(function () { poll(id); }, 400); return; }
        progressBox.hidden = true;
        busy(false);
        if (j.state === 'done') {
          showResult(j.result.text, false);
          var again = el('a', ' Reload the list');
          again.href = location.pathname + location.search;
          result.appendChild(again);
        } else showResult('failed: ' + (j.error ? j.error.error : 'unknown error'), true);
      }).catch(function (e) { setTimeout(function () { poll(id); }, 1000); progressText.textContent = 'waiting for the server: ' + e.message; });
    }
  }

  if (page === 'overview') { refreshOverview(); setInterval(refreshOverview, 5000); }
  if (page === 'entries') loadGroups();
  if (page === 'entries' || page === 'entry') setupActions();
})();
`
