// Verifies one ledger record in the browser, from the bytes the page carries and nothing
// else: the record's hash (RFC 8785 canonical JSON, SHA-256), its Ed25519 signature under
// the key its key_id names (and within that key's validity), its RFC 6962 inclusion proof
// into the latest checkpoint, and the checkpoint's own signed note. WebCrypto does the
// hashing and the Ed25519 checks; the server is not asked.
(function () {
  'use strict';
  var enc = new TextEncoder();

  function hex(bytes) {
    return Array.from(new Uint8Array(bytes), function (b) { return b.toString(16).padStart(2, '0'); }).join('');
  }
  function unhex(s) {
    if (!/^([0-9a-f]{2})*$/.test(s)) throw new Error('not hex');
    var out = new Uint8Array(s.length / 2);
    for (var i = 0; i < out.length; i++) out[i] = parseInt(s.substr(i * 2, 2), 16);
    return out;
  }
  function unbase64(s) {
    var bin = atob(s);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  function concat() {
    var n = 0, i;
    for (i = 0; i < arguments.length; i++) n += arguments[i].length;
    var out = new Uint8Array(n), at = 0;
    for (i = 0; i < arguments.length; i++) { out.set(arguments[i], at); at += arguments[i].length; }
    return out;
  }
  async function sha256(bytes) {
    return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  }
  function same(a, b) {
    if (a.length !== b.length) return false;
    for (var i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  // RFC 8785: members sorted by UTF-16 code units (the default sort), ECMAScript numbers
  // and strings (JSON.stringify).
  function jcs(v) {
    if (v === null || typeof v !== 'object') return JSON.stringify(v);
    if (Array.isArray(v)) return '[' + v.map(jcs).join(',') + ']';
    return '{' + Object.keys(v).sort().map(function (k) {
      return JSON.stringify(k) + ':' + jcs(v[k]);
    }).join(',') + '}';
  }
  async function ed25519(publicKey, signature, message) {
    var key = await crypto.subtle.importKey('raw', publicKey, { name: 'Ed25519' }, false, ['verify']);
    return crypto.subtle.verify({ name: 'Ed25519' }, key, signature, message);
  }
  // RFC 9162 §2.1.3.2.
  async function rootFromInclusion(index, size, leafHash, path) {
    if (index >= size) throw new Error('the record is not inside the checkpoint');
    var fn = index, sn = size - 1, r = leafHash;
    for (var i = 0; i < path.length; i++) {
      var p = path[i];
      if (sn === 0) throw new Error('the proof is too long');
      if (fn % 2 === 1 || fn === sn) {
        r = await sha256(concat([1], p, r));
        if (fn % 2 === 0) {
          while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
        }
      } else {
        r = await sha256(concat([1], r, p));
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    if (sn !== 0) throw new Error('the proof is too short');
    return r;
  }
  // C2SP signed note: the origin (also the key's name), the size and the root, then the
  // signature line naming the key by a hash of the origin and the public key.
  async function checkNote(note, publicKey) {
    var parts = note.split('\n\n');
    var text = parts[0] + '\n';
    var lines = parts[0].split('\n');
    if (lines.length !== 3) throw new Error('the checkpoint is malformed');
    var origin = lines[0];
    var sigLine = (parts[1] || '').split('\n')[0];
    var prefix = '\u2014 ' + origin + ' ';
    if (sigLine.indexOf(prefix) !== 0) throw new Error('the checkpoint is not signed by ' + origin);
    var blob = unbase64(sigLine.slice(prefix.length));
    var keyHash = (await sha256(concat(enc.encode(origin + '\n'), [1], publicKey))).slice(0, 4);
    if (blob.length !== 68 || !same(blob.slice(0, 4), keyHash)) throw new Error('the checkpoint names another key');
    if (!(await ed25519(publicKey, blob.slice(4), enc.encode(text)))) throw new Error('the checkpoint signature is invalid');
    return { size: Number(lines[1]), root: unbase64(lines[2]) };
  }

  async function verify(p) {
    if (p.record === null) throw new Error('the record body was removed by retention; only its hash remains');
    var record = JSON.parse(p.record);
    if (record.seq !== p.seq) throw new Error('the record says seq ' + record.seq);
    var hash = await sha256(enc.encode(jcs(record)));
    if (hex(hash) !== p.record_hash) throw new Error('the record does not hash to its recorded hash: it was changed after it was signed');
    var key = p.keys[record.key_id];
    if (!key) throw new Error('no published key ' + record.key_id);
    var publicKey = unbase64(key.public_key);
    if (hex((await sha256(publicKey)).slice(0, 8)) !== record.key_id) throw new Error('key ' + record.key_id + ' does not match its id');
    var at = Date.parse(record.recorded_at), from = Date.parse(key.valid_from);
    var until = key.valid_until ? Date.parse(key.valid_until) : Infinity;
    if (!(at >= from && at <= until)) throw new Error('the record lies outside its key\'s validity');
    if (!(await ed25519(publicKey, unhex(p.signature), hash))) throw new Error('the signature is invalid');
    var cpKey = p.keys[p.checkpoint_key_id];
    if (!cpKey) throw new Error('no published key ' + p.checkpoint_key_id);
    var cp = await checkNote(p.note, unbase64(cpKey.public_key));
    var leaf = await sha256(concat([0], hash));
    var root = await rootFromInclusion(p.seq, cp.size, leaf, p.inclusion_proof.map(unhex));
    if (!same(root, cp.root)) throw new Error('the inclusion proof does not lead to the checkpoint\'s root');
    return 'Verified: hash, signature (key ' + record.key_id + ') and inclusion in the signed checkpoint of ' + cp.size + ' records';
  }

  var button = document.getElementById('verify');
  if (!button) return;
  button.addEventListener('click', function () {
    var out = document.getElementById('verify-result');
    out.className = '';
    out.textContent = 'Checking…';
    var p = JSON.parse(document.getElementById('proof').getAttribute('data-proof'));
    verify(p).then(function (msg) {
      out.className = 'ok';
      out.textContent = msg;
    }, function (err) {
      out.className = 'bad';
      out.textContent = 'Verification failed: ' + err.message;
    });
  });
})();
