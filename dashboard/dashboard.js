/*
 * The dashboard: polls /api/overview every second for the charts and summary, /api/clients
 * every two seconds, browses /api/topics on demand, and tails a filter over MQTT over
 * WebSocket (mqtt-tail.js). Everything from the broker is put in the page as text
 * (textContent), never as HTML.
 */
(function () {
  'use strict';
  var POINTS = 120;
  var $ = function (id) { return document.getElementById(id); };
  var series = { t: [], in: [], out: [], conn: [], lat: [] };
  var last = null;

  function chart(el, labels, colors, data) {
    var s = [{}];
    for (var i = 0; i < labels.length; i++) s.push({ label: labels[i], stroke: colors[i], width: 2, points: { show: false } });
    return new uPlot({ width: Math.max(260, el.clientWidth - 4), height: 170, series: s, legend: { live: false }, axes: [{}, { size: 60 }] }, data, el);
  }
  var charts = {
    rates: chart($('chart-rates'), ['received', 'sent'], ['#2563eb', '#16a34a'], [[], [], []]),
    conn: chart($('chart-connections'), ['clients'], ['#9333ea'], [[], []]),
    lat: chart($('chart-latency'), ['avg ms'], ['#ea580c'], [[], []]),
  };

  function push(arr, v) { arr.push(v); if (arr.length > POINTS) arr.shift(); }
  function human(n) { return n >= 1e6 ? (n / 1e6).toFixed(2) + 'M' : n >= 1e4 ? (n / 1e3).toFixed(1) + 'k' : String(Math.round(n * 100) / 100); }
  function duration(s) {
    var d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
    return (d ? d + 'd ' : '') + (d || h ? h + 'h ' : '') + m + 'm ' + (s % 60) + 's';
  }
  function setStatus(ok, text) { var el = $('status'); el.textContent = text; el.className = 'status ' + (ok ? 'ok' : 'bad'); }
  function get(path) {
    return fetch(path, { credentials: 'same-origin', cache: 'no-store' }).then(function (r) {
      if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
      return r.json();
    });
  }

  function overview() {
    get('api/overview').then(function (o) {
      setStatus(true, 'live');
      $('s-uptime').textContent = duration(o.uptime);
      ['connections', 'sessions', 'subscriptions', 'retained', 'queued', 'inflight'].forEach(function (k) { $('s-' + k).textContent = human(o[k]); });
      $('s-dropped').textContent = human(o.publishDropped);
      if (last !== null) {
        var dt = Math.max(0.001, (o.now - last.now) / 1000);
        push(series.t, o.now / 1000);
        push(series.in, (o.publishReceived - last.publishReceived) / dt);
        push(series.out, (o.publishSent - last.publishSent) / dt);
        push(series.conn, o.connections);
        var n = o.latencyCount - last.latencyCount;
        push(series.lat, n > 0 ? ((o.latencySum - last.latencySum) / n) * 1000 : null);
        charts.rates.setData([series.t, series.in, series.out]);
        charts.conn.setData([series.t, series.conn]);
        charts.lat.setData([series.t, series.lat]);
      }
      last = o;
      listeners(o.websockets);
    }).catch(function (e) { setStatus(false, e.message); });
  }

  function cell(tr, v) { var td = document.createElement('td'); td.textContent = v === null || v === undefined ? '' : String(v); tr.appendChild(td); }
  function clients() {
    get('api/clients').then(function (c) {
      var body = $('clients').tBodies[0], rows = document.createDocumentFragment();
      c.clients.forEach(function (x) {
        var tr = document.createElement('tr');
        [x.id, x.address === null ? '' : x.address + ':' + x.port, x.listener, x.protocol, x.username, x.keepalive, x.subscriptions, x.queued, x.inflight].forEach(function (v) { cell(tr, v); });
        rows.appendChild(tr);
      });
      body.replaceChildren(rows);
      $('clients-count').textContent = c.total > c.clients.length ? '(' + c.clients.length + ' of ' + c.total + ')' : '(' + c.total + ')';
    }).catch(function () {});
  }

  // Topic browser: one level at a time, the retained payload of the chosen topic.
  var current = null;
  function b64(s) { var bin = atob(s), out = new Uint8Array(bin.length); for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i); return out; }
  function hex(bytes) {
    var lines = [];
    for (var i = 0; i < bytes.length; i += 16) {
      var h = [], a = '';
      for (var j = i; j < Math.min(i + 16, bytes.length); j++) { h.push((bytes[j] < 16 ? '0' : '') + bytes[j].toString(16)); a += bytes[j] >= 32 && bytes[j] < 127 ? String.fromCharCode(bytes[j]) : '.'; }
      lines.push(('0000' + i.toString(16)).slice(-5) + '  ' + h.join(' ').padEnd(48) + ' ' + a);
    }
    return lines.join('\n');
  }
  function text(bytes) { try { return new TextDecoder('utf-8', { fatal: true }).decode(bytes); } catch (e) { return null; } }
  /** auto: JSON pretty-printed if it parses, text if it is printable UTF-8, else hex. */
  function render(bytes, mode) {
    var t = text(bytes);
    if (mode === 'hex' || t === null) return hex(bytes);
    if (mode === 'json' || mode === 'auto') { try { return JSON.stringify(JSON.parse(t), null, 2); } catch (e) { if (mode === 'json') return 'not JSON: ' + t; } }
    // eslint-disable-next-line no-control-regex
    if (mode === 'auto' && /[\u0000-\u0008\u000e-\u001f]/.test(t)) return hex(bytes);
    return t;
  }
  function showRetained() {
    if (current === null) return;
    $('retained-payload').textContent = render(current, $('retained-view').value);
  }
  $('retained-view').addEventListener('change', showRetained);
  function browse(topic) {
    get('api/topics?topic=' + encodeURIComponent(topic)).then(function (r) {
      var crumbs = $('crumbs');
      crumbs.replaceChildren();
      var root = document.createElement('a'); root.textContent = '(root)'; root.onclick = function () { browse(''); }; crumbs.appendChild(root);
      var path = '';
      (topic === '' ? [] : topic.split('/')).forEach(function (level) {
        path = path === '' ? level : path + '/' + level;
        var p = path, a = document.createElement('a');
        a.textContent = level === '' ? '(empty)' : level; a.onclick = function () { browse(p); };
        crumbs.appendChild(document.createTextNode(' / ')); crumbs.appendChild(a);
      });
      var ul = $('topics'); ul.replaceChildren();
      r.children.forEach(function (c) {
        var li = document.createElement('li'), a = document.createElement('a');
        a.textContent = (c.name === '' ? '(empty)' : c.name) + (c.hasChildren ? '/' : '');
        a.onclick = function () { browse(c.topic); };
        li.appendChild(a);
        if (c.retained) { var tag = document.createElement('span'); tag.className = 'tag'; tag.textContent = 'retained'; li.appendChild(tag); }
        ul.appendChild(li);
      });
      if (r.message === null) { $('retained').hidden = true; current = null; return; }
      $('retained').hidden = false;
      $('retained-topic').textContent = r.message.topic;
      $('retained-meta').textContent = 'QoS ' + r.message.qos + ', ' + r.message.bytes + ' bytes';
      current = b64(r.message.payload);
      showRetained();
    }).catch(function () {});
  }

  // Live tail over MQTT over WebSocket: the listener this page came from if it is a
  // websockets listener, else the first websockets listener the broker has.
  var known = '';
  function listeners(list) {
    var key = JSON.stringify(list);
    if (key === known) return;
    known = key;
    var sel = $('tail-listener');
    sel.replaceChildren();
    var here = null;
    list.forEach(function (l) {
      var o = document.createElement('option');
      o.value = (l.tls ? 'wss' : 'ws') + '://' + location.hostname + ':' + l.port + '/mqtt';
      o.textContent = (l.tls ? 'wss ' : 'ws ') + l.port;
      if (String(l.port) === location.port) here = o.value;
      sel.appendChild(o);
    });
    if (here !== null) sel.value = here;
    if (list.length === 0) { var none = document.createElement('option'); none.textContent = 'no websockets listener'; none.value = ''; sel.appendChild(none); }
  }
  var tail = null, shown = 0;
  function tailStatus(t) { $('tail-status').textContent = t; }
  $('tail-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    if (tail !== null) tail.close();
    var url = $('tail-listener').value;
    if (url === '') { tailStatus('the broker has no websockets listener'); return; }
    var pw = $('tail-password');
    tail = new MqttTail({
      url: url,
      clientId: 'ts-dashboard-' + Math.random().toString(16).slice(2, 10),
      username: $('tail-username').value,
      password: pw.value,
      filter: $('tail-filter').value || '#',
      onStatus: tailStatus,
      onMessage: function (topic, payload) {
        var li = document.createElement('li'), t = document.createElement('span');
        li.className = 'tail-msg';
        t.className = 'topic'; t.textContent = topic;
        li.appendChild(t);
        var body = text(payload);
        li.appendChild(document.createTextNode(' ' + (body === null ? hex(payload).split('\n')[0] : body.slice(0, 500))));
        var ol = $('tail');
        ol.insertBefore(li, ol.firstChild);
        if (++shown > 200) ol.removeChild(ol.lastChild);
      },
    });
    pw.value = '';
    $('tail-stop').disabled = false;
    tailStatus('connecting to ' + url);
  });
  $('tail-stop').addEventListener('click', function () { if (tail !== null) tail.close(); tail = null; $('tail-stop').disabled = true; });

  window.tsDashboard = { series: series };
  overview();
  clients();
  browse('');
  setInterval(overview, 1000);
  setInterval(clients, 2000);
})();
