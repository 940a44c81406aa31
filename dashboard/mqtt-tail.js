/*
 * A minimal MQTT 3.1.1 subscriber over WebSocket for the dashboard's live tail: CONNECT,
 * one SUBSCRIBE at QoS 0, PUBLISH in, PINGREQ every 30 s. Nothing is sent but these;
 * the password, if any, goes only into the CONNECT to this broker and is not kept.
 */
(function () {
  'use strict';
  var enc = new TextEncoder();

  function str(s) {
    var b = enc.encode(s);
    var out = new Uint8Array(2 + b.length);
    out[0] = b.length >> 8; out[1] = b.length & 255; out.set(b, 2);
    return out;
  }
  function concat(parts) {
    var n = 0, i, off = 0;
    for (i = 0; i < parts.length; i++) n += parts[i].length;
    var out = new Uint8Array(n);
    for (i = 0; i < parts.length; i++) { out.set(parts[i], off); off += parts[i].length; }
    return out;
  }
  function packet(type, body) {
    var len = [], n = body.length;
    do { var d = n % 128; n = Math.floor(n / 128); len.push(n > 0 ? d | 128 : d); } while (n > 0);
    return concat([new Uint8Array([type].concat(len)), body]);
  }

  /** opts: url, clientId, username, password, filter, onMessage(topic, Uint8Array), onStatus(text) */
  function MqttTail(opts) {
    var ws = new WebSocket(opts.url, ['mqtt']);
    var buf = new Uint8Array(0), ping = 0, self = this;
    ws.binaryType = 'arraybuffer';
    this.close = function () { clearInterval(ping); try { ws.send(new Uint8Array([0xe0, 0])); } catch (e) {} ws.close(); };
    ws.onopen = function () {
      var flags = 0x02, payload = [str(opts.clientId)];
      if (opts.username) { flags |= 0x80; payload.push(str(opts.username)); }
      if (opts.username && opts.password) { flags |= 0x40; payload.push(str(opts.password)); }
      var head = concat([str('MQTT'), new Uint8Array([4, flags, 0, 30])]);
      ws.send(packet(0x10, concat([head].concat(payload))));
    };
    ws.onmessage = function (ev) {
      buf = concat([buf, new Uint8Array(ev.data)]);
      for (;;) {
        if (buf.length < 2) return;
        var mult = 1, len = 0, i = 1, b;
        do { if (i >= buf.length) return; b = buf[i++]; len += (b & 127) * mult; mult *= 128; } while (b & 128);
        if (buf.length < i + len) return;
        var type = buf[0], body = buf.subarray(i, i + len);
        buf = buf.slice(i + len);
        self.handle(type, body);
      }
    };
    ws.onclose = function () { clearInterval(ping); opts.onStatus('closed'); };
    ws.onerror = function () { opts.onStatus('websocket error: is ' + opts.url + ' a websockets listener?'); };
    this.handle = function (type, body) {
      var kind = type >> 4;
      if (kind === 2) {
        if (body[1] !== 0) { opts.onStatus('refused by the broker (CONNACK ' + body[1] + ')'); ws.close(); return; }
        ws.send(packet(0x82, concat([new Uint8Array([0, 1]), str(opts.filter), new Uint8Array([0])])));
        ping = setInterval(function () { ws.send(new Uint8Array([0xc0, 0])); }, 30000);
      } else if (kind === 9) {
        opts.onStatus(body[2] === 0x80 ? 'subscription refused for ' + opts.filter : 'subscribed to ' + opts.filter);
      } else if (kind === 3) {
        var tlen = (body[0] << 8) | body[1];
        var topic = new TextDecoder().decode(body.subarray(2, 2 + tlen));
        var off = 2 + tlen + (((type >> 1) & 3) > 0 ? 2 : 0);
        opts.onMessage(topic, body.slice(off));
      }
    };
  }
  window.MqttTail = MqttTail;
})();
