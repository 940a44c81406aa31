/**
 * The mosquitto.conf parser, option groups with a scope: listeners (and the implicit
 * default listener), per_listener_settings, bridges, and ts-mosquitto's Redis options.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfigText, type ParsedConfig } from '../src/broker/config/index.js';

function parse(text: string): ParsedConfig {
  return parseConfigText(text, 'test.conf', { hostname: 'host' });
}

function errorLines(text: string): string[] {
  try {
    parse(text);
  } catch (e) {
    if (e instanceof ConfigError) return e.lines;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('listeners', () => {
  it('several listeners: tcp with and without address, unix socket, websockets', () => {
    const { config } = parse(
      [
        'listener 1884',
        'listener 1885 127.0.0.1',
        'socket_domain ipv4',
        'max_connections 10',
        'mount_point tenant/a/',
        'use_username_as_clientid true',
        'max_qos 1',
        'max_topic_alias 0',
        'listener 0 /run/mosq.sock',
        'listener 8080',
        'protocol websockets',
        'http_dir /srv/www',
        'bind_interface lo',
        '',
      ].join('\n'),
    );
    expect(config.localOnly).toBe(false);
    const [a, b, u, w] = config.listeners;
    expect(config.listeners).toHaveLength(4);
    expect(a).toMatchObject({ port: 1884, host: null, unixPath: null, protocol: 'mqtt', isDefault: false });
    expect(b).toMatchObject({
      port: 1885,
      host: '127.0.0.1',
      socketDomain: 'ipv4',
      maxConnections: 10,
      mountPoint: 'tenant/a/',
      useUsernameAsClientid: true,
      maxQos: 1,
      maxTopicAlias: 0,
    });
    expect(u).toMatchObject({ port: 0, host: null, unixPath: '/run/mosq.sock' });
    expect(w).toMatchObject({ port: 8080, protocol: 'websockets', httpDir: '/srv/www', bindInterface: 'lo' });
  });

  it('TLS and PSK options belong to their listener', () => {
    const { config } = parse(
      [
        'listener 8883',
        'cafile /etc/ca.pem',
        'capath /etc/certs',
        'certfile /etc/server.crt',
        'keyfile /etc/server.key',
        'crlfile /etc/crl.pem',
        'dhparamfile /etc/dh.pem',
        'ciphers ECDHE-RSA-AES128-GCM-SHA256',
        'ciphers_tls1.3 TLS_AES_128_GCM_SHA256',
        'tls_version tlsv1.2',
        'require_certificate true',
        'use_identity_as_username true',
        'use_subject_as_username true',
        'listener 8884',
        'psk_hint hint one',
        '',
      ].join('\n'),
    );
    expect(config.listeners[0]).toMatchObject({
      cafile: '/etc/ca.pem',
      capath: '/etc/certs',
      certfile: '/etc/server.crt',
      keyfile: '/etc/server.key',
      crlfile: '/etc/crl.pem',
      dhparamfile: '/etc/dh.pem',
      ciphers: 'ECDHE-RSA-AES128-GCM-SHA256',
      ciphersTls13: 'TLS_AES_128_GCM_SHA256',
      tlsVersion: 'tlsv1.2',
      requireCertificate: true,
      useIdentityAsUsername: true,
      useSubjectAsUsername: true,
      pskHint: null,
    });
    expect(config.listeners[1]).toMatchObject({ port: 8884, pskHint: 'hint one', certfile: null });
  });

  it('the implicit default listener comes last, on 1883 or the port option', () => {
    const a = parse('max_connections 5\nlistener 1884\n').config;
    expect(a.listeners.map((l) => [l.port, l.isDefault, l.maxConnections])).toEqual([
      [1884, false, -1],
      [1883, true, 5],
    ]);
    const b = parse('port 1890\nbind_address 127.0.0.1\n').config;
    expect(b.listeners.map((l) => [l.port, l.host])).toEqual([[1890, '127.0.0.1']]);
    expect(b.localOnly).toBe(false);
  });

  it('options that do not start the default listener leave local-only mode on', () => {
    const { config } = parse('protocol websockets\nhttp_dir /srv\nmax_topic_alias 3\n');
    expect(config.localOnly).toBe(true);
    expect(config.listeners.map((l) => [l.host, l.protocol, l.httpDir, l.maxTopicAlias])).toEqual([
      ['127.0.0.1', 'websockets', '/srv', 3],
      ['::1', 'websockets', '/srv', 3],
    ]);
  });

  it('mount_point needs an explicit listener and no wildcard', () => {
    expect(errorLines('port 1884\nmount_point a/')[0]).toMatch(/^Error: You must use create a listener/);
    expect(errorLines('listener 1\nmount_point a/#')[0]).toBe(
      "Error: Invalid mount_point 'a/#'. Does it contain a wildcard character?",
    );
  });
});

describe('per_listener_settings', () => {
  const text = (plt: boolean): string =>
    [
      `per_listener_settings ${plt}`,
      'listener 1884',
      'password_file /etc/pw1',
      'allow_anonymous true',
      'auto_id_prefix one-',
      'listener 1885',
      'acl_file /etc/acl2',
      'psk_file /etc/psk2',
      'allow_zero_length_clientid false',
      '',
    ].join('\n');

  it('false: security options from any listener apply to all listeners', () => {
    const { config } = parse(text(false));
    const [a, b] = config.listeners;
    expect(a!.security).toBe(config.security);
    expect(b!.security).toBe(config.security);
    expect(config.security).toEqual({
      passwordFile: '/etc/pw1',
      aclFile: '/etc/acl2',
      pskFile: '/etc/psk2',
      allowAnonymous: true,
      allowZeroLengthClientid: false,
      autoIdPrefix: 'one-',
    });
  });

  it('true: each listener has its own, allow_anonymous defaulting to false', () => {
    const { config } = parse(text(true));
    const [a, b] = config.listeners;
    expect(a!.security).toEqual({
      passwordFile: '/etc/pw1',
      aclFile: null,
      pskFile: null,
      allowAnonymous: true,
      allowZeroLengthClientid: true,
      autoIdPrefix: 'one-',
    });
    expect(b!.security).toEqual({
      passwordFile: null,
      aclFile: '/etc/acl2',
      pskFile: '/etc/psk2',
      allowAnonymous: false,
      allowZeroLengthClientid: false,
      autoIdPrefix: 'auto-',
    });
  });

  it('true: the default listener (port, options before any listener) keeps allow_anonymous true unless set, as Mosquitto 2.0.11', () => {
    const [dflt, section] = [1, 0].map((i) => parse('per_listener_settings true\nport 1884\nlistener 1885\n').config.listeners[i]!);
    expect(dflt.isDefault && dflt.security.allowAnonymous).toBe(true);
    expect(section.security.allowAnonymous).toBe(false);
    expect(parse('per_listener_settings true\nallow_anonymous false\nport 1884\n').config.listeners[0]!.security.allowAnonymous).toBe(false);
  });

  it('true after a listener: that listener stops sharing the global settings', () => {
    const { config } = parse('listener 1884\nper_listener_settings true\npassword_file /etc/pw\nlistener 1885\n');
    expect(config.listeners[0]!.security.passwordFile).toBe('/etc/pw');
    expect(config.listeners[1]!.security.passwordFile).toBeNull();
    expect(config.security.passwordFile).toBeNull();
  });

  it('the same file option twice is a duplicate only within one scope', () => {
    expect(parse('per_listener_settings true\nlistener 1\npassword_file a\nlistener 2\npassword_file b\n').config
      .listeners[1]!.security.passwordFile).toBe('b');
    expect(errorLines('listener 1\npassword_file a\nlistener 2\npassword_file b')[0]).toBe(
      'Error: Duplicate password_file value in configuration.',
    );
  });
});

describe('bridges', () => {
  it('connection sections become BridgeConfigs with Mosquitto defaults filled in', () => {
    const { config } = parse(
      [
        'listener 1884',
        'connection one',
        'address 10.0.0.1:1884 10.0.0.2',
        'topic sensors/# out 1',
        'topic cmd/# in 2 local/ remote/',
        'topic "" both 0 here/x there/y',
        'connection two',
        'addresses broker.example:8883',
        'topic # both',
        'remote_clientid rc',
        'local_clientid lc',
        'remote_username ru',
        'remote_password rp',
        'local_username lu',
        'local_password lp',
        'cleansession true',
        'local_cleansession false',
        'notifications false',
        'notifications_local_only true',
        'notification_topic n/t',
        'keepalive_interval 30',
        'idle_timeout 90',
        'restart_timeout 10 60',
        'start_type lazy',
        'threshold 20',
        'try_private false',
        'round_robin true',
        'bridge_protocol_version mqttv50',
        'bridge_attempt_unsubscribe false',
        'bridge_outgoing_retain false',
        'bridge_max_packet_size 5000',
        'bridge_bind_address 10.0.0.9',
        'bridge_cafile /ca.pem',
        'bridge_certfile /c.pem',
        'bridge_keyfile /k.pem',
        'bridge_alpn mqtt',
        'bridge_tls_version tlsv1.3',
        'bridge_require_ocsp false',
        '',
      ].join('\n'),
    );
    const [one, two] = config.bridges;
    expect(one).toMatchObject({
      name: 'one',
      addresses: [
        { host: '10.0.0.1', port: 1884 },
        { host: '10.0.0.2', port: 1883 },
      ],
      remoteClientid: 'host.one',
      localClientid: 'local.host.one',
      notificationTopic: '$SYS/broker/connection/host.one/state',
      cleansession: false,
      localCleansession: null,
      keepaliveInterval: 60,
      restartTimeout: { base: 5, cap: 30 },
      startType: 'automatic',
      protocolVersion: 'mqttv311',
      tryPrivate: true,
      notifications: true,
    });
    expect(one!.topics).toEqual([
      { pattern: 'sensors/#', direction: 'out', qos: 1, localPrefix: null, remotePrefix: null, localTopic: 'sensors/#', remoteTopic: 'sensors/#' },
      { pattern: 'cmd/#', direction: 'in', qos: 2, localPrefix: 'local/', remotePrefix: 'remote/', localTopic: 'local/cmd/#', remoteTopic: 'remote/cmd/#' },
      { pattern: '', direction: 'both', qos: 0, localPrefix: 'here/x', remotePrefix: 'there/y', localTopic: 'here/x', remoteTopic: 'there/y' },
    ]);
    expect(two).toMatchObject({
      addresses: [{ host: 'broker.example', port: 8883 }],
      remoteClientid: 'rc',
      localClientid: 'lc',
      remoteUsername: 'ru',
      remotePassword: 'rp',
      localUsername: 'lu',
      localPassword: 'lp',
      cleansession: true,
      localCleansession: false,
      notifications: false,
      notificationsLocalOnly: true,
      notificationTopic: 'n/t',
      keepaliveInterval: 30,
      idleTimeout: 90,
      restartTimeout: { base: 10, cap: 60 },
      startType: 'lazy',
      threshold: 20,
      tryPrivate: false,
      roundRobin: true,
      protocolVersion: 'mqttv50',
      attemptUnsubscribe: false,
      outgoingRetain: false,
      maxPacketSize: 5000,
      bindAddress: '10.0.0.9',
      cafile: '/ca.pem',
      certfile: '/c.pem',
      keyfile: '/k.pem',
      alpn: 'mqtt',
      tlsVersion: 'tlsv1.3',
      requireOcsp: false,
    });
    expect(two!.topics[0]).toMatchObject({ pattern: '#', direction: 'both', qos: 0 });
  });

  it('a constant restart_timeout and PSK bridges', () => {
    const b = parse('connection p\naddress 127.0.0.1\ntopic t\nrestart_timeout 20\nbridge_identity id\nbridge_psk 0a1b\n')
      .config.bridges[0]!;
    expect(b.restartTimeout).toEqual({ base: 20, cap: null });
    expect([b.identity, b.psk]).toEqual(['id', '0a1b']);
  });

  it('values below the minimum are raised with a warning', () => {
    const { config, messages } = parse('connection w\naddress 127.0.0.1\ntopic t\nkeepalive_interval 1\nthreshold 0\n');
    expect([config.bridges[0]!.keepaliveInterval, config.bridges[0]!.threshold]).toEqual([5, 1]);
    expect(messages.map((m) => m.text)).toEqual([
      'keepalive interval too low, using 5 seconds.',
      'threshold too low, using 1 message.',
    ]);
  });
});

describe('redis options (issue 7)', () => {
  it('off by default, with the documented defaults', () => {
    expect(parse('listener 1\n').config.redis).toEqual({
      enabled: false,
      host: '127.0.0.1',
      port: 6379,
      url: null,
      clusterNodes: null,
      addressSet: false,
      password: null,
      db: 0,
      pools: {},
      nodeName: null,
      presenceKey: 'mqtt',
      eventChannel: 'mqtt_channel',
      retain: true,
      store: [
        { filter: 'queue/#', mode: 'queue' },
        { filter: 'pubsub/#', mode: 'pubsub' },
      ],
      messageExpiry: 3600,
      hooks: [],
    });
  });

  it('every option', () => {
    const { redis } = parse(
      [
        'redis_host 10.1.1.1',
        'redis_port 6380',
        'redis_password s3cret',
        'redis_db 2',
        'redis_pool audit redis://10.1.1.2:6379/1',
        'redis_node_name node-a',
        'redis_presence_key online',
        'redis_event_channel events',
        'redis_retain false',
        'redis_store jobs/+ queue',
        'redis_store last/# keep_latest',
        'redis_message_expiry 60',
        'redis_hook message.publish topic=a/# pool=audit RPUSH pub:${topic} ${payload}',
        'redis_hook client.connected HSET clients ${clientid} ${ts}',
        '',
      ].join('\n'),
    ).config;
    expect(redis).toMatchObject({
      enabled: true,
      host: '10.1.1.1',
      port: 6380,
      password: 's3cret',
      db: 2,
      pools: { audit: 'redis://10.1.1.2:6379/1' },
      nodeName: 'node-a',
      presenceKey: 'online',
      eventChannel: 'events',
      retain: false,
      store: [
        { filter: 'jobs/+', mode: 'queue' },
        { filter: 'last/#', mode: 'keep_latest' },
      ],
      messageExpiry: 60,
    });
    expect(redis.hooks).toEqual([
      { event: 'message.publish', topic: 'a/#', pool: 'audit', command: 'RPUSH', args: ['pub:${topic}', '${payload}'] },
      { event: 'client.connected', topic: null, pool: null, command: 'HSET', args: ['clients', '${clientid}', '${ts}'] },
    ]);
  });

  it('redis_cluster_nodes: host:port words (IPv6 in brackets), repeated lines add up, and it switches Redis on', () => {
    const { redis } = parse('redis_cluster_nodes 10.0.0.5:7000 [::1]:7001\nredis_cluster_nodes redis-c:7002\n').config;
    expect([redis.enabled, redis.clusterNodes]).toEqual([
      true,
      [{ host: '10.0.0.5', port: 7000 }, { host: '::1', port: 7001 }, { host: 'redis-c', port: 7002 }],
    ]);
    expect(errorLines('redis_cluster_nodes 10.0.0.5')[0]).toBe('Error: Invalid redis_cluster_nodes value (10.0.0.5): expected host:port.');
    expect(errorLines('redis_cluster_nodes a:0')[0]).toBe('Error: Invalid redis_cluster_nodes value (a:0): expected host:port.');
    expect(errorLines('redis_cluster_nodes 10.0.0.5:7000\nredis_db 1')[0]).toBe(
      'Error: redis_db must be 0 with redis_cluster_nodes (a Redis Cluster has only database 0).',
    );
    expect(errorLines('redis_host h\nredis_cluster_nodes 10.0.0.5:7000')[0]).toBe(
      'Error: redis_cluster_nodes cannot be combined with redis_host, redis_port or redis_url.',
    );
  });

  it('redis_url switches it on; redis_store none clears the rules', () => {
    const { redis } = parse('redis_url rediss://u:p@r.example:6380/3\nredis_store none\n').config;
    expect([redis.enabled, redis.url, redis.store]).toEqual([true, 'rediss://u:p@r.example:6380/3', []]);
  });

  it('bad values are refused in the style of Mosquitto', () => {
    expect(errorLines('redis_port 0')).toEqual(['Error: Invalid redis_port value (0).', 'Error found at test.conf:1.']);
    expect(errorLines('redis_url http://x')[0]).toBe('Error: Invalid redis_url value (http://x).');
    expect(errorLines('redis_db -1')[0]).toBe('Error: Invalid redis_db value (-1).');
    expect(errorLines('redis_store a/#/b queue')[0]).toBe('Error: Invalid redis_store topic filter (a/#/b).');
    expect(errorLines('redis_store a/# fifo')[0]).toBe('Error: Invalid redis_store mode (fifo).');
    expect(errorLines('redis_hook message.sent SET a b')[0]).toBe('Error: Invalid redis_hook event (message.sent).');
    expect(errorLines('redis_hook message.publish pool=none SET a b')[0]).toBe(
      'Error: Unknown redis_pool "none" in redis_hook.',
    );
    expect(errorLines('redis_hook message.publish topic=a/+x SET a')[0]).toBe(
      'Error: Invalid redis_hook topic filter (a/+x).',
    );
    expect(errorLines('redis_hook message.publish topic=a')[0]).toBe('Error: Empty redis_hook command in configuration.');
    expect(errorLines('redis_pool p redis://a\nredis_pool p redis://b')[0]).toBe('Error: Duplicate redis_pool name "p".');
    expect(errorLines('redis_host a\nredis_host b')[0]).toBe('Error: Duplicate redis_host value in configuration.');
    expect(errorLines('redis_message_expiry -5')[0]).toBe('Error: Invalid redis_message_expiry value (-5).');
  });
});
