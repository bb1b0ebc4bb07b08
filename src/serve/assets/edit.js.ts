/**
 * /static/edit.js: the entry page's payload editor. The JSON is checked as one types (an
 * invalid one says where and disables Preview and Apply); Preview runs the library's dry run
 * on the server and shows its diff; Apply is enabled only for the text and reason that were
 * previewed. Text goes in through textContent only. (No backticks or dollar-brace: it lives
 * in a template literal.)
 */
export const EDIT_JS = String.raw`'use strict';
(function () {
  var box = document.getElementById('edit');
  if (!box) return;
  var api = box.getAttribute('data-api');
  var ref = box.getAttribute('data-ref');
  var stamp = box.getAttribute('data-stamp');
  var list = box.getAttribute('data-list');
  var text = document.getElementById('edit-payload');
  var status = document.getElementById('edit-status');
  var why = document.getElementById('edit-why');
  var force = document.getElementById('edit-force');
  var preview = document.getElementById('edit-preview');
  var apply = document.getElementById('edit-apply');
  var diff = document.getElementById('edit-diff');
  var result = document.getElementById('edit-result');
  var previewed = null;
  var busy = false;
  var done = false;

  function current() { return JSON.stringify([text.value, why.value.trim(), force.checked]); }
  function valid() {
    try { JSON.parse(text.value); return null; } catch (e) { return e.message; }
  }
  function sync() {
    var err = valid();
    status.textContent = err === null ? 'valid JSON' : 'invalid JSON: ' + err;
    status.className = err === null ? 'muted' : 'error';
    text.setAttribute('aria-invalid', err === null ? 'false' : 'true');
    var ready = err === null && why.value.trim() !== '' && !busy && !done;
    preview.disabled = !ready;
    apply.disabled = !ready || previewed !== current();
    if (previewed !== null && previewed !== current()) diff.hidden = true;
  }
  function show(msg, failed) {
    result.hidden = false;
    result.textContent = msg;
    result.className = 'result' + (failed ? ' failed' : '');
  }
  function send(dryRun) {
    // app.js (loaded first, on every page) makes the requests: one rule for the API's errors.
    return window.dletter.request(api, { ref: ref, stamp: stamp, payload: text.value, why: why.value.trim(), force: force.checked, dryRun: dryRun });
  }

  [text, why, force].forEach(function (el) { el.addEventListener('input', sync); el.addEventListener('change', sync); });
  preview.addEventListener('click', function () {
    var asked = current();
    busy = true; previewed = null; result.hidden = true; sync();
    send(true).then(function (r) {
      busy = false;
      diff.textContent = r.text;
      diff.hidden = false;
      previewed = asked;
      sync();
    }).catch(function (e) { busy = false; diff.hidden = true; show(e.message, true); sync(); });
  });
  apply.addEventListener('click', function () {
    if (previewed !== current()) return;
    busy = true; sync();
    send(false).then(function (r) {
      busy = false; done = true;
      show(r.text, false);
      var a = document.createElement('a');
      a.href = list;
      a.textContent = ' See it in the retry log';
      a.id = 'edit-new';
      result.appendChild(a);
      sync();
    }).catch(function (e) { busy = false; previewed = null; show(e.message, true); sync(); });
  });
  sync();
})();
`
