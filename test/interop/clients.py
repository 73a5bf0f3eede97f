# Drives the Python Kafka clients for the interop tests. Usage: clients.py COMMAND BOOTSTRAP TOPIC [ARGS]
# Messages are JSON lines: {"key", "value", "headers": [[k, v]], "timestamp", "partition"} (+ "offset" out).
import json
import sys


def read_messages():
    return [json.loads(line) for line in sys.stdin if line.strip()]


def enc(s):
    return None if s is None else s.encode('utf-8')


def dec(b):
    return None if b is None else b.decode('utf-8')


def confluent_produce(bootstrap, topic, codec='none', acks='all'):
    from confluent_kafka import Producer
    p = Producer({'bootstrap.servers': bootstrap, 'acks': acks, 'compression.type': codec,
                  'linger.ms': 5, 'message.max.bytes': 2000000})
    errors = []

    def report(err, msg):
        if err is not None:
            errors.append(str(err))

    for m in read_messages():
        while True:
            try:
                p.produce(topic, key=enc(m['key']), value=enc(m['value']), partition=m['partition'],
                          headers=[(k, enc(v)) for k, v in m['headers']], timestamp=m['timestamp'], on_delivery=report)
                break
            except BufferError:
                p.poll(0.1)
    left = p.flush(60)
    print(json.dumps({'errors': errors, 'unflushed': left}))


def confluent_consume(bootstrap, topic, partitions, expected, isolation='read_uncommitted'):
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({'bootstrap.servers': bootstrap, 'group.id': 'interop-unused', 'enable.auto.commit': False,
                  'enable.partition.eof': True, 'fetch.max.bytes': 4000000, 'max.partition.fetch.bytes': 2000000,
                  'isolation.level': isolation})
    c.assign([TopicPartition(topic, p, 0) for p in range(int(partitions))])
    got, eof = 0, set()
    while got < int(expected) or len(eof) < int(partitions):
        m = c.poll(10)
        if m is None:
            break
        if m.error():
            if m.error().code() == -191:  # _PARTITION_EOF
                eof.add(m.partition())
                continue
            raise SystemExit('consume error: %s' % m.error())
        got += 1
        print(json.dumps({'partition': m.partition(), 'offset': m.offset(), 'key': dec(m.key()), 'value': dec(m.value()),
                          'headers': [[k, dec(v)] for k, v in (m.headers() or [])], 'timestamp': m.timestamp()[1]}))
    c.close()


def api_version(version):
    """kafka-python's api_version from '1.0': the Kafka version it speaks, which picks its request versions; '' lets it
    ask the broker (ApiVersions) and use the newest it knows."""
    return tuple(int(n) for n in version.split('.')) if version else None


def kp_produce(bootstrap, topic, codec='none', acks='all', version=''):
    from kafka import KafkaProducer
    p = KafkaProducer(bootstrap_servers=bootstrap, acks=-1 if acks == 'all' else int(acks), api_version=api_version(version),
                      compression_type=None if codec == 'none' else codec, linger_ms=5, max_request_size=2000000)
    futures = [p.send(topic, key=enc(m['key']), value=enc(m['value']), partition=m['partition'],
                      headers=[(k, enc(v)) for k, v in m['headers']], timestamp_ms=m['timestamp'])
               for m in read_messages()]
    p.flush(60)
    errors = []
    for f in futures:
        try:
            f.get(timeout=60)
        except Exception as e:  # report, the test asserts on it
            errors.append(type(e).__name__ + ': ' + str(e))
    p.close()
    print(json.dumps({'errors': errors, 'unflushed': 0}))


def kp_consume(bootstrap, topic, partitions, expected, version=''):
    from kafka import KafkaConsumer, TopicPartition
    c = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=10000, api_version=api_version(version),
                      fetch_max_bytes=4000000, max_partition_fetch_bytes=2000000)
    c.assign([TopicPartition(topic, p) for p in range(int(partitions))])
    c.seek_to_beginning()
    got = 0
    for m in c:
        got += 1
        print(json.dumps({'partition': m.partition, 'offset': m.offset, 'key': dec(m.key), 'value': dec(m.value),
                          'headers': [[k, dec(v)] for k, v in (m.headers or [])], 'timestamp': m.timestamp}))
        if got >= int(expected):
            break
    c.close()


def confluent_admin(bootstrap, topic, action, partitions='1'):
    from confluent_kafka.admin import AdminClient, NewTopic
    a = AdminClient({'bootstrap.servers': bootstrap})
    if action == 'create':
        fs = a.create_topics([NewTopic(topic, num_partitions=int(partitions), replication_factor=1)])
    else:
        fs = a.delete_topics([topic])
    for f in fs.values():
        f.result(30)
    print(json.dumps({'ok': True}))


def confluent_configs(bootstrap, topic, configs_json):
    """Creates `topic` with the given configs (an error is printed, not raised), then describes it and broker 1."""
    from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic
    a = AdminClient({'bootstrap.servers': bootstrap})
    try:
        a.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1, config=json.loads(configs_json))])[topic].result(30)
    except Exception as e:  # the broker's refusal, as librdkafka reports it
        print(json.dumps({'error': str(e)}))
        return
    out = {}
    for kind, name in (('topic', topic), ('broker', '1')):
        res = ConfigResource(kind, name)
        entries = a.describe_configs([res])[res].result(30)
        out[kind] = {n: [e.value, int(e.source), e.is_default, e.is_read_only] for n, e in entries.items()}
    print(json.dumps(out))


def confluent_alter_broker(bootstrap, name, configs_json):
    """AlterConfigs on broker `name` ('' for the cluster-wide defaults), then describes broker 1's log.* entries set."""
    from confluent_kafka.admin import AdminClient, ConfigResource
    a = AdminClient({'bootstrap.servers': bootstrap})
    res = ConfigResource('broker', name, set_config=json.loads(configs_json))
    try:
        a.alter_configs([res])[res].result(30)
    except Exception as e:
        print(json.dumps({'error': str(e)}))
        return
    one = ConfigResource('broker', '1')
    entries = a.describe_configs([one])[one].result(30)
    print(json.dumps({n: [e.value, int(e.source)] for n, e in entries.items() if int(e.source) in (2, 3)}))


def kp_admin(bootstrap, topic, action, partitions='1', version=''):
    from kafka.admin import KafkaAdminClient, NewTopic
    a = KafkaAdminClient(bootstrap_servers=bootstrap, api_version=api_version(version))
    if action == 'create':
        a.create_topics([NewTopic(topic, num_partitions=int(partitions), replication_factor=1)])
    else:
        a.delete_topics([topic])
    a.close()
    print(json.dumps({'ok': True}))


def confluent_offsets_for_times(bootstrap, topic, partitions, timestamp):
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({'bootstrap.servers': bootstrap, 'group.id': 'interop-unused'})
    res = c.offsets_for_times([TopicPartition(topic, p, int(timestamp)) for p in range(int(partitions))], 30)
    print(json.dumps([[r.partition, r.offset] for r in res]))
    c.close()


def emit(obj):
    print(json.dumps(obj), flush=True)


def commit_retrying(commit):
    """Commits, retrying while the group completes a rebalance (REBALANCE_IN_PROGRESS is retriable)."""
    import time
    for _ in range(100):
        try:
            return commit()
        except Exception as e:  # the client's error types differ; the message names the condition
            if 'REBALANCE_IN_PROGRESS' not in str(e) and 'RebalanceInProgress' not in type(e).__name__:
                raise
            time.sleep(0.05)
    raise SystemExit('commit kept failing with REBALANCE_IN_PROGRESS')


FIRST_MESSAGE_WAIT_MS = 30000


def still_waiting(got, last, idle_ms):
    """A group member keeps polling until idle_ms pass without a message, once it has had one; before its first,
    it waits FIRST_MESSAGE_WAIT_MS at least, as the scenario's messages come only once every member has partitions."""
    import time
    return (time.time() - last) * 1000 < (int(idle_ms) if got else max(int(idle_ms), FIRST_MESSAGE_WAIT_MS))


def confluent_group(bootstrap, topic, group, max_messages, idle_ms, strategy='range', instance_id='', session_ms='6000'):
    """Consume in a group, committing each message synchronously; exit after max_messages or idle_ms of silence
    (see still_waiting)."""
    import time
    from confluent_kafka import Consumer
    conf = {'bootstrap.servers': bootstrap, 'group.id': group, 'enable.auto.commit': False, 'auto.offset.reset': 'earliest',
            'partition.assignment.strategy': strategy, 'session.timeout.ms': int(session_ms), 'heartbeat.interval.ms': 300}
    if instance_id:
        conf['group.instance.id'] = instance_id
    c = Consumer(conf)

    def on_assign(consumer, partitions):
        emit({'event': 'assigned', 'partitions': sorted(p.partition for p in partitions)})
        if strategy == 'cooperative-sticky':
            consumer.incremental_assign(partitions)

    def on_revoke(consumer, partitions):
        emit({'event': 'revoked', 'partitions': sorted(p.partition for p in partitions)})
        if strategy == 'cooperative-sticky':
            consumer.incremental_unassign(partitions)

    c.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
    got, last = 0, time.time()
    while got < int(max_messages) and still_waiting(got, last, idle_ms):
        m = c.poll(0.2)
        if m is None:
            continue
        if m.error():
            raise SystemExit('consume error: %s' % m.error())
        commit_retrying(lambda: c.commit(message=m, asynchronous=False))
        got += 1
        last = time.time()
        emit({'partition': m.partition(), 'offset': m.offset(), 'value': dec(m.value())})
    c.close()


def kp_group(bootstrap, topic, group, max_messages, idle_ms, strategy='range', instance_id='', session_ms='6000', version=''):
    import time
    from kafka import KafkaConsumer, OffsetAndMetadata, TopicPartition
    from kafka.coordinator.assignors.range import RangePartitionAssignor
    from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
    assignors = {'range': [RangePartitionAssignor], 'roundrobin': [RoundRobinPartitionAssignor]}[strategy]
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False, auto_offset_reset='earliest',
                      partition_assignment_strategy=assignors, session_timeout_ms=int(session_ms), heartbeat_interval_ms=300,
                      api_version=api_version(version))

    from kafka import ConsumerRebalanceListener

    class Listener(ConsumerRebalanceListener):
        def on_partitions_assigned(self, assigned):
            emit({'event': 'assigned', 'partitions': sorted(p.partition for p in assigned)})

        def on_partitions_revoked(self, revoked):
            emit({'event': 'revoked', 'partitions': sorted(p.partition for p in revoked)})

    c.subscribe([topic], listener=Listener())
    got, last = 0, time.time()
    while got < int(max_messages) and still_waiting(got, last, idle_ms):
        batch = c.poll(timeout_ms=200, max_records=1)
        for tp, msgs in batch.items():
            for m in msgs:
                commit_retrying(lambda: c.commit({tp: OffsetAndMetadata(m.offset + 1, None)}))
                got += 1
                last = time.time()
                emit({'partition': m.partition, 'offset': m.offset, 'value': dec(m.value)})
    c.close()


def confluent_produce_idempotent(bootstrap, topic, count, codec='none', batch='200', keyed='0', runs=''):
    """Produces count messages 'v-<i>' to partition 0 with enable.idempotence=true, up to batch in a batch, compressed
    with codec, each with the key 'k<i>' if keyed is '1'; reports errors. With runs ('7000,300'), messages are produced
    in runs of those lengths in turn, each run flushed before the next so that it makes batches of its own (librdkafka
    makes a batch when it sends, so a run still queued when the next begins, on a busy machine or while the link is
    down, would share its batches)."""
    from confluent_kafka import Producer
    p = Producer({'bootstrap.servers': bootstrap, 'enable.idempotence': True, 'linger.ms': 2, 'batch.num.messages': int(batch),
                  'compression.codec': codec, 'retry.backoff.ms': 50, 'reconnect.backoff.ms': 20, 'reconnect.backoff.max.ms': 200,
                  'message.timeout.ms': 60000, 'socket.timeout.ms': 10000})
    errors = []
    lengths = [int(n) for n in runs.split(',')] if runs else []
    run, run_end = 0, (lengths[0] if lengths else 0)

    def report(err, msg):
        if err is not None:
            errors.append(str(err))

    for i in range(int(count)):
        while True:
            try:
                p.produce(topic, value=('v-%d' % i).encode(), key=('k%d' % i).encode() if keyed == '1' else None, partition=0,
                          on_delivery=report)
                break
            except BufferError:
                p.poll(0.05)
        if i % 1000 == 0:
            p.poll(0)
        if lengths and i + 1 == run_end:
            p.flush(60)
            run += 1
            run_end += lengths[run % len(lengths)]
    left = p.flush(90)
    print(json.dumps({'errors': errors, 'unflushed': left}))


def oauth_settings(settings, client):
    """settings with an 'oauth_token': [token, expiry in seconds since the epoch] made into the client's token
    callback: librdkafka's oauth_cb, kafka-python's sasl_oauth_token_provider."""
    if 'oauth_token' not in settings:
        return settings
    token, expiry = settings.pop('oauth_token')
    if client == 'rdkafka':
        return dict(settings, oauth_cb=lambda _config: (token, float(expiry)))
    from kafka.oauth.abstract import AbstractTokenProvider

    class Provider(AbstractTokenProvider):
        def token(self):
            return token
    return dict(settings, sasl_oauth_token_provider=Provider())


def confluent_secure(bootstrap, topic, config_json, count):
    """With the client settings config_json gives (security.protocol, sasl.*, ssl.*): produces count messages
    'secure-<i>', reads them back, and prints {"consumed": [...], "errors": [...]}, errors being what the client
    reported (its error callback)."""
    from confluent_kafka import Consumer, Producer, TopicPartition
    errors = []
    closing = []
    # what closing reports is left out: a connection still authenticating then (the consumer's to its group
    # coordinator) fails with _AUTHENTICATION, "transport failure ... in state DOWN"
    common = dict(oauth_settings(json.loads(config_json), 'rdkafka'),
                  **{'bootstrap.servers': bootstrap, 'error_cb': lambda e: None if closing else errors.append(e.name())})
    p = Producer(dict(common, **{'message.timeout.ms': 10000}))
    for i in range(int(count)):
        p.produce(topic, value=('secure-%d' % i).encode(), partition=0)
    # until delivered, or refused: a refused client would otherwise retry until its messages time out
    while p.flush(0.1) > 0 and not errors:
        pass
    p.purge()
    consumed = []
    if not errors:
        c = Consumer(dict(common, **{'group.id': 'secure-readers', 'enable.auto.commit': False}))
        c.assign([TopicPartition(topic, 0, 0)])
        while len(consumed) < int(count):
            m = c.poll(10)
            if m is None or m.error():
                break
            consumed.append(dec(m.value()))
        closing.append(True)
        c.close()
    print(json.dumps({'consumed': consumed, 'errors': sorted(set(errors))}))


def kp_secure(bootstrap, topic, config_json, count):
    """kafka-python with the settings config_json gives (security_protocol, sasl_*, ssl_*; its SASL is SaslHandshake
    v0 and bare tokens): produces count messages 'secure-<i>', reads them back, and prints {"consumed": [...],
    "error": the exception's class name or null}."""
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    settings = dict(oauth_settings(json.loads(config_json), 'kafka-python'), bootstrap_servers=bootstrap)
    try:
        p = KafkaProducer(**settings)
        for i in range(int(count)):
            p.send(topic, ('secure-%d' % i).encode(), partition=0)
        p.flush(10)
        p.close()
        c = KafkaConsumer(consumer_timeout_ms=5000, **settings)
        c.assign([TopicPartition(topic, 0)])
        c.seek_to_beginning()
        consumed = []
        for m in c:
            consumed.append(dec(m.value))
            if len(consumed) == int(count):
                break
        c.close()
        print(json.dumps({'consumed': consumed, 'error': None}))
    except Exception as e:  # what a user of the client sees
        print(json.dumps({'consumed': [], 'error': type(e).__name__}))


def confluent_produce_until_killed(bootstrap, topic, partitions, limit, keys='0', per_second='0'):
    """Produces 'm-<i>' to partition i % partitions, idempotent (acks=all), up to limit messages, printing each
    acknowledged one as {"p", "o", "v"}: what the broker promised to keep. Run to be killed; stdout is flushed at
    every poll, so a kill loses at most the acknowledgements of one poll, never prints one that was not given.
    With keys > 0, message i has the key 'k<i % keys>'; with per_second > 0, about that many are sent a second."""
    import time
    from confluent_kafka import Producer
    # batch.size: what piles up while the broker restarts stays under the kill tests' 16 KiB segment.bytes (larger
    # records are refused with RECORD_LIST_TOO_LARGE, as Kafka refuses them)
    p = Producer({'bootstrap.servers': bootstrap, 'enable.idempotence': True, 'linger.ms': 2, 'batch.size': 8192,
                  'retry.backoff.ms': 50, 'reconnect.backoff.ms': 20, 'reconnect.backoff.max.ms': 200,
                  'message.timeout.ms': 300000})
    out = []

    def report(err, msg):
        if err is None:
            out.append(json.dumps({'p': msg.partition(), 'o': msg.offset(), 'v': dec(msg.value())}))

    def drain(timeout):
        p.poll(timeout)
        if out:
            sys.stdout.write('\n'.join(out) + '\n')
            sys.stdout.flush()
            out.clear()

    parts, nkeys, rate = int(partitions), int(keys), int(per_second)
    start = time.time()
    for i in range(int(limit)):
        key = ('k%d' % (i % nkeys)).encode() if nkeys > 0 else None
        while True:
            try:
                p.produce(topic, key=key, value=('m-%d' % i).encode(), partition=i % parts, on_delivery=report)
                break
            except BufferError:
                drain(0.05)
        # paced: a drain and a pause every 50 messages; unpaced: a drain every 500
        if i % (50 if rate > 0 else 500) == 0:
            drain(0)
            if rate > 0:
                time.sleep(max(start + i / rate - time.time(), 0))
    while True:
        drain(0.1)


def confluent_consume_until_killed(bootstrap, topic, group):
    """A group member committing automatically that prints every message as {"partition", "offset", "value"} and
    every error event (the broker going away, say) as {"error"}, and goes on. Run to be killed."""
    from confluent_kafka import Consumer
    c = Consumer({'bootstrap.servers': bootstrap, 'group.id': group, 'auto.offset.reset': 'earliest',
                  'enable.auto.commit': True, 'auto.commit.interval.ms': 200, 'session.timeout.ms': 6000,
                  'heartbeat.interval.ms': 300, 'reconnect.backoff.ms': 20, 'reconnect.backoff.max.ms': 200})
    c.subscribe([topic])
    while True:
        m = c.poll(0.2)
        if m is None:
            continue
        if m.error():
            emit({'error': str(m.error())})
        else:
            emit({'partition': m.partition(), 'offset': m.offset(), 'value': dec(m.value())})


def confluent_transactions(bootstrap, topic, txid):
    """Runs the transactions given on stdin ({"values", "keys" (optional), "partition", "outcome": "commit"|"abort"})
    with one producer."""
    from confluent_kafka import Producer
    p = Producer({'bootstrap.servers': bootstrap, 'transactional.id': txid, 'linger.ms': 2})
    p.init_transactions(30)
    for t in read_messages():
        p.begin_transaction()
        keys = t.get('keys') or [None] * len(t['values'])
        for k, v in zip(keys, t['values']):
            p.produce(topic, key=enc(k), value=enc(v), partition=t['partition'])
        p.flush(30)
        if t['outcome'] == 'commit':
            p.commit_transaction(30)
        else:
            p.abort_transaction(30)
    emit({'done': True})


def confluent_process(bootstrap, source, sink, group, txid, total, crash_after='-1'):
    """Consume-transform-produce with exactly-once: reads `source` (read_committed) in group `group`, writes
    'out-<value>' to `sink` partition 0 and the consumed offsets in one transaction per poll, until the group's
    positions cover `total` messages. With crash_after >= 0, exits abruptly mid-transaction (output produced and
    flushed, not committed) once that many messages were processed."""
    import os
    import time
    from confluent_kafka import Consumer, Producer
    c = Consumer({'bootstrap.servers': bootstrap, 'group.id': group, 'enable.auto.commit': False,
                  'isolation.level': 'read_committed', 'auto.offset.reset': 'earliest', 'session.timeout.ms': 6000})
    p = Producer({'bootstrap.servers': bootstrap, 'transactional.id': txid, 'linger.ms': 2})
    p.init_transactions(30)
    c.subscribe([source])
    processed, deadline = 0, time.time() + 120
    while time.time() < deadline:
        msgs = c.consume(num_messages=50, timeout=0.5)
        msgs = [m for m in msgs if not m.error()]
        if msgs:
            p.begin_transaction()
            for m in msgs:
                p.produce(sink, value=b'out-' + m.value(), partition=0)
            processed += len(msgs)
            if 0 <= int(crash_after) <= processed:
                p.flush(30)
                emit({'crashed_after': processed})
                sys.stdout.flush()
                os._exit(3)
            p.send_offsets_to_transaction(c.position(c.assignment()), c.consumer_group_metadata(), 30)
            p.commit_transaction(30)
        assigned = c.assignment()
        if assigned and sum(max(tp.offset, 0) for tp in c.position(assigned)) >= int(total):
            break
    c.close()
    emit({'processed': processed})


def confluent_process_through_restarts(bootstrap, source, sink, group, txid, total):
    """Consume-transform-produce with exactly-once as an application that outlives broker restarts writes it: reads
    `source` (read_committed) in group `group`, writes 'out-<value>' to `sink` (the input's partition % 2) with the
    consumed offsets in one transaction per poll; a transaction that must be aborted is, and the consumer goes back to
    the committed offsets. Prints {"committed": n} after each commit, {"abort": reason} after each abort, then
    {"done": n}; exits 2 on a fatal error."""
    import time
    from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
    c = Consumer({'bootstrap.servers': bootstrap, 'group.id': group, 'enable.auto.commit': False,
                  'isolation.level': 'read_committed', 'auto.offset.reset': 'earliest', 'session.timeout.ms': 10000,
                  'reconnect.backoff.ms': 20, 'reconnect.backoff.max.ms': 200})
    p = Producer({'bootstrap.servers': bootstrap, 'transactional.id': txid, 'linger.ms': 2,
                  'reconnect.backoff.ms': 20, 'reconnect.backoff.max.ms': 200})

    def retrying(call):
        while True:
            try:
                return call()
            except KafkaException as e:
                err = e.args[0]
                if err.fatal():
                    emit({'fatal': str(err)})
                    sys.exit(2)
                if not err.retriable() or err.txn_requires_abort():
                    raise
                time.sleep(0.05)

    retrying(lambda: p.init_transactions(60))
    c.subscribe([source])
    committed, done, deadline = 0, 0, time.time() + 180
    while done < int(total) and time.time() < deadline:
        msgs = [m for m in c.consume(num_messages=200, timeout=0.5) if not m.error()]
        if msgs:
            try:
                p.begin_transaction()
                for m in msgs:
                    p.produce(sink, value=b'out-' + m.value(), partition=m.partition() % 2)
                retrying(lambda: p.send_offsets_to_transaction(c.position(c.assignment()), c.consumer_group_metadata(), 60))
                retrying(lambda: p.commit_transaction(60))
                committed += len(msgs)
                emit({'committed': committed})
            except KafkaException as e:
                emit({'abort': str(e.args[0])})
                retrying(lambda: p.abort_transaction(60))
                assigned = c.assignment()
                for tp in c.committed(assigned, 60):
                    c.seek(TopicPartition(tp.topic, tp.partition, max(tp.offset, 0)))
        assigned = c.assignment()
        if assigned:
            done = sum(max(tp.offset, 0) for tp in c.position(assigned))
    c.close()
    emit({'done': done})


def kp_offsets_topic(bootstrap, expected):
    """Reads __consumer_offsets as tools that read it directly do (Burrow, Kafka's OffsetsMessageFormatter): each key
    and value led by its version, in Kafka's layouts. Prints each record decoded, in order per partition."""
    import struct
    from kafka import KafkaConsumer, TopicPartition

    def string(buf, at):
        (n,) = struct.unpack_from('>h', buf, at)
        return (None, at + 2) if n < 0 else (buf[at + 2:at + 2 + n].decode('utf-8'), at + 2 + n)

    c = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=3000, exclude_internal_topics=False)
    partitions = c.partitions_for_topic('__consumer_offsets')
    c.assign([TopicPartition('__consumer_offsets', p) for p in sorted(partitions)])
    c.seek_to_beginning()
    got = 0
    for m in c:
        (key_version,) = struct.unpack_from('>h', m.key, 0)
        group, at = string(m.key, 2)
        out = {'partition': m.partition, 'group': group}
        v = m.value
        if key_version in (0, 1):
            topic, at = string(m.key, at)
            (partition,) = struct.unpack_from('>i', m.key, at)
            out.update(kind='offset', topic=topic, topicPartition=partition)
            if v is not None:
                (version, offset) = struct.unpack_from('>hq', v, 0)
                at = 10
                epoch = -1
                if version >= 3:
                    (epoch,) = struct.unpack_from('>i', v, at)
                    at += 4
                metadata, at = string(v, at)
                (commit_ts,) = struct.unpack_from('>q', v, at)
                out.update(version=version, offset=offset, leaderEpoch=epoch, metadata=metadata, commitTimestamp=commit_ts)
        elif key_version == 2:
            out.update(kind='group')
            if v is not None:
                (version,) = struct.unpack_from('>h', v, 0)
                protocol_type, at = string(v, 2)
                (generation,) = struct.unpack_from('>i', v, at)
                protocol, at = string(v, at + 4)
                leader, at = string(v, at)
                if version >= 2:
                    at += 8
                (count,) = struct.unpack_from('>i', v, at)
                at += 4
                members = []
                for _ in range(count):
                    member_id, at = string(v, at)
                    if version >= 3:
                        _, at = string(v, at)
                    client_id, at = string(v, at)
                    _, at = string(v, at)
                    at += 8 if version >= 1 else 4
                    for _ in range(2):
                        (n,) = struct.unpack_from('>i', v, at)
                        at += 4 + max(n, 0)
                    members.append({'memberId': member_id, 'clientId': client_id})
                if at != len(v):
                    raise SystemExit('%d bytes after the group metadata value' % (len(v) - at))
                out.update(version=version, protocolType=protocol_type, generation=generation, protocol=protocol,
                           leader=leader, members=members)
        else:
            out.update(kind='other', keyVersion=key_version)
        out['tombstone'] = v is None
        print(json.dumps(out))
        got += 1
        if got >= int(expected):
            break
    c.close()


def kp_acls(bootstrap, config_json, acls_json):
    """kafka-python's admin client (DescribeAcls, CreateAcls and DeleteAcls v1) with the settings config_json gives:
    creates the ACLs acls_json lists ([resource type, name, pattern type, principal, host, operation, permission],
    by their names), lists every topic ACL, deletes those for the resource named "gone" and lists again. Prints
    {"failed": [[acl, error]], "listed": [acl], "deleted": [acl], "after": [acl]}, each acl as that list."""
    from kafka.admin import (ACL, ACLFilter, ACLOperation, ACLPermissionType, ACLResourcePatternType, KafkaAdminClient,
                             ResourcePattern, ResourcePatternFilter, ResourceType)

    def row(acl):
        p = acl.resource_pattern
        return [p.resource_type.name, p.resource_name, p.pattern_type.name, acl.principal, acl.host,
                acl.operation.name, acl.permission_type.name]

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, **json.loads(config_json))
    wanted = [ACL(principal=a[3], host=a[4], operation=ACLOperation[a[5]], permission_type=ACLPermissionType[a[6]],
                  resource_pattern=ResourcePattern(ResourceType[a[0]], a[1], ACLResourcePatternType[a[2]]))
              for a in json.loads(acls_json)]
    created = admin.create_acls(wanted)

    def topic_filter(name):
        return ACLFilter(principal=None, host=None, operation=ACLOperation.ANY, permission_type=ACLPermissionType.ANY,
                         resource_pattern=ResourcePatternFilter(ResourceType.TOPIC, name, ACLResourcePatternType.ANY))

    listed, _ = admin.describe_acls(topic_filter(None))
    deleted = admin.delete_acls([topic_filter('gone')])
    after, _ = admin.describe_acls(topic_filter(None))
    admin.close()
    # a refusal comes as the error's class
    print(json.dumps({'failed': [[row(acl), getattr(err, '__name__', type(err).__name__)] for acl, err in created['failed']],
                      'listed': sorted(row(a) for a in listed),
                      'deleted': sorted(row(acl) for _, matches, _ in deleted for acl, _ in matches),
                      'after': sorted(row(a) for a in after)}))


def confluent_authorized(bootstrap, topic, group, config_json):
    """librdkafka as a client the ACLs may refuse (settings from config_json): produces 'granted' to topic, then
    reads the topic back in the consumer group. Prints {"produce": error name or null, "consumed": [...],
    "consume": the errors the consumer met, sorted}; once it meets one, it polls a little longer for others (the
    group's coordinator and the topic's metadata are asked for side by side)."""
    from confluent_kafka import Consumer, Producer
    common = dict(oauth_settings(json.loads(config_json), 'rdkafka'), **{'bootstrap.servers': bootstrap})
    produced = []
    p = Producer(dict(common, **{'message.timeout.ms': 10000}))
    p.produce(topic, value=b'granted', partition=0, on_delivery=lambda err, msg: produced.append(err and err.name()))
    p.flush(15)
    c = Consumer(dict(common, **{'group.id': group, 'auto.offset.reset': 'earliest', 'enable.auto.commit': False}))
    c.subscribe([topic])
    consumed, errors, polls_left = [], set(), 20
    while polls_left > 0:
        polls_left -= 1
        m = c.poll(0.5)
        if m is None:
            if consumed:
                break
            continue
        if m.error():
            if not errors:
                polls_left = min(polls_left, 4)
            errors.add(m.error().name())
            continue
        consumed.append(dec(m.value()))
        c.commit(m, asynchronous=False)
    c.close()
    print(json.dumps({'produce': produced[0] if produced else 'not delivered', 'consumed': consumed, 'consume': sorted(errors)}))


def confluent_throttled(bootstrap, topic, client_id, count, size):
    """librdkafka as a client whose client id has byte-rate quotas: produces `count` values '<i>:' padded to `size`
    bytes to partition 0, reads them back, and prints {"errors", "consumed": the indexes in order, and the throttle
    times (ms) its throttle callbacks reported for producing and consuming}."""
    from confluent_kafka import Consumer, Producer, TopicPartition
    throttles = {'produce': [], 'consume': []}

    def on_throttle(kind):
        return lambda event: throttles[kind].append(round(event.throttle_time * 1000))

    errors = []
    p = Producer({'bootstrap.servers': bootstrap, 'client.id': client_id, 'acks': 'all', 'linger.ms': 5,
                  'throttle_cb': on_throttle('produce')})
    for i in range(int(count)):
        value = ('%d:' % i).ljust(int(size), 'x').encode()
        while True:
            try:
                p.produce(topic, value=value, partition=0, on_delivery=lambda err, msg: err and errors.append(str(err)))
                break
            except BufferError:
                p.poll(0.1)
    left = p.flush(60)
    c = Consumer({'bootstrap.servers': bootstrap, 'client.id': client_id, 'group.id': 'throttled-unused',
                  'enable.auto.commit': False, 'throttle_cb': on_throttle('consume')})
    c.assign([TopicPartition(topic, 0, 0)])
    consumed = []
    while len(consumed) < int(count):
        m = c.poll(15)
        if m is None:
            break
        if m.error():
            errors.append(m.error().name())
            continue
        consumed.append(int(m.value().split(b':')[0]))
    c.close()
    print(json.dumps({'errors': errors, 'unflushed': left, 'consumed': consumed,
                      'produceThrottles': throttles['produce'], 'consumeThrottles': throttles['consume']}))


def kp_throttled(bootstrap, topic, client_id, count, size):
    """kafka-python (which does not wait out throttles itself, so the broker's muting does) as a client whose client
    id has byte-rate quotas: as confluent-throttled, the throttle times being its metrics' largest."""
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    p = KafkaProducer(bootstrap_servers=bootstrap, client_id=client_id, acks='all', linger_ms=5)
    futures = [p.send(topic, ('%d:' % i).ljust(int(size), 'x').encode(), partition=0) for i in range(int(count))]
    p.flush(60)
    errors = [str(f.exception) for f in futures if f.failed()]
    produce_max = p.metrics()['producer-metrics']['produce-throttle-time-max']
    p.close()
    c = KafkaConsumer(bootstrap_servers=bootstrap, client_id=client_id, enable_auto_commit=False, consumer_timeout_ms=15000)
    c.assign([TopicPartition(topic, 0)])
    c.seek(TopicPartition(topic, 0), 0)
    consumed = []
    for m in c:
        consumed.append(int(m.value.split(b':')[0]))
        if len(consumed) == int(count):
            break
    consume_max = c.metrics()['consumer-fetch-manager-metrics']['fetch-throttle-time-max']
    c.close()
    print(json.dumps({'errors': errors, 'unflushed': 0, 'consumed': consumed,
                      'produceThrottles': [produce_max], 'consumeThrottles': [consume_max]}))


COMMANDS = {
    'confluent-throttled': confluent_throttled,
    'kp-throttled': kp_throttled,
    'kp-acls': kp_acls,
    'confluent-authorized': confluent_authorized,
    'confluent-transactions': confluent_transactions,
    'confluent-process': confluent_process,
    'confluent-process-through-restarts': confluent_process_through_restarts,
    'confluent-produce-idempotent': confluent_produce_idempotent,
    'confluent-secure': confluent_secure,
    'kp-secure': kp_secure,
    'confluent-produce-until-killed': confluent_produce_until_killed,
    'confluent-consume-until-killed': confluent_consume_until_killed,
    'confluent-group': confluent_group,
    'kp-group': kp_group,
    'confluent-produce': confluent_produce,
    'confluent-consume': confluent_consume,
    'confluent-admin': confluent_admin,
    'confluent-configs': confluent_configs,
    'confluent-alter-broker': confluent_alter_broker,
    'confluent-offsets-for-times': confluent_offsets_for_times,
    'kp-produce': kp_produce,
    'kp-consume': kp_consume,
    'kp-admin': kp_admin,
    'kp-offsets-topic': kp_offsets_topic,
}


if __name__ == '__main__':
    COMMANDS[sys.argv[1]](*sys.argv[2:])
