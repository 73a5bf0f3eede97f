// Drives sarama, the Go Kafka client (Debian's golang-github-shopify-sarama-dev), for the interop tests; built with
// jsonlines.go. Usage: clients COMMAND BOOTSTRAP VERSION [ARGS]; VERSION is the Kafka version sarama is told to
// speak, which picks the request versions it sends.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/Shopify/sarama"
)

func config(version string) *sarama.Config {
	v, err := sarama.ParseKafkaVersion(version)
	if err != nil {
		fail("version", err)
	}
	c := sarama.NewConfig()
	c.Version = v
	c.ClientID = "sluice-interop-sarama"
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Return.Successes = true
	c.Producer.Partitioner = sarama.NewManualPartitioner
	c.Producer.MaxMessageBytes = 2000000
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	c.Consumer.Fetch.Default = 2000000
	return c
}

func admin(bootstrap string, c *sarama.Config) sarama.ClusterAdmin {
	a, err := sarama.NewClusterAdmin([]string{bootstrap}, c)
	if err != nil {
		fail("admin", err)
	}
	return a
}

func codecOf(name string) sarama.CompressionCodec {
	codecs := map[string]sarama.CompressionCodec{"none": sarama.CompressionNone, "gzip": sarama.CompressionGZIP, "snappy": sarama.CompressionSnappy, "lz4": sarama.CompressionLZ4, "zstd": sarama.CompressionZSTD}
	codec, ok := codecs[name]
	if !ok {
		fail("codec", fmt.Errorf("unknown codec %q", name))
	}
	return codec
}

// produce TOPIC CODEC IDEMPOTENT: sends the messages of stdin, each to its partition, in batches of up to 500, and
// prints {"errors": [...], "offsets": [offset of each message, or -1]}.
func produce(bootstrap string, c *sarama.Config, topic, codec string, idempotent bool) {
	c.Producer.Compression = codecOf(codec)
	if idempotent {
		c.Producer.Idempotent = true
		c.Net.MaxOpenRequests = 1
	}
	p, err := sarama.NewSyncProducer([]string{bootstrap}, c)
	if err != nil {
		fail("producer", err)
	}
	var msgs []*sarama.ProducerMessage
	for _, m := range readMessages() {
		pm := &sarama.ProducerMessage{Topic: topic, Partition: m.Partition, Timestamp: fromMillis(m.Timestamp)}
		if m.Key != nil {
			pm.Key = sarama.ByteEncoder(bytesOf(m.Key))
		}
		if m.Value != nil {
			pm.Value = sarama.ByteEncoder(bytesOf(m.Value))
		}
		for _, h := range m.Headers {
			pm.Headers = append(pm.Headers, sarama.RecordHeader{Key: []byte(h[0]), Value: []byte(h[1])})
		}
		msgs = append(msgs, pm)
	}
	errors := []string{}
	failed := map[*sarama.ProducerMessage]bool{}
	for i := 0; i < len(msgs); i += 500 {
		end := i + 500
		if end > len(msgs) {
			end = len(msgs)
		}
		if err := p.SendMessages(msgs[i:end]); err != nil {
			perrs, ok := err.(sarama.ProducerErrors)
			if !ok {
				fail("send", err)
			}
			for _, e := range perrs {
				errors = append(errors, e.Err.Error())
				failed[e.Msg] = true
			}
		}
	}
	offsets := make([]int64, len(msgs))
	for i, m := range msgs {
		offsets[i] = m.Offset
		if failed[m] {
			offsets[i] = -1
		}
	}
	if err := p.Close(); err != nil {
		fail("producer close", err)
	}
	emit(map[string]interface{}{"errors": errors, "offsets": offsets})
}

// A partition's log start offset and high watermark, as ListOffsets gives them.
func bounds(client sarama.Client, topic string, p int32) (int64, int64) {
	low, err := client.GetOffset(topic, p, sarama.OffsetOldest)
	if err != nil {
		fail("log start offset", err)
	}
	high, err := client.GetOffset(topic, p, sarama.OffsetNewest)
	if err != nil {
		fail("high watermark", err)
	}
	return low, high
}

// consume TOPIC PARTITIONS: prints every message of each partition, from its log start offset up to the high
// watermark it had when the consumer started.
func consume(bootstrap string, c *sarama.Config, topic string, partitions int32) {
	client, err := sarama.NewClient([]string{bootstrap}, c)
	if err != nil {
		fail("client", err)
	}
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		fail("consumer", err)
	}
	for p := int32(0); p < partitions; p++ {
		low, high := bounds(client, topic, p)
		if low >= high {
			continue
		}
		pc, err := consumer.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			fail("consume partition", err)
		}
		for done := false; !done; {
			select {
			case m := <-pc.Messages():
				out := message{Key: stringOf(m.Key), Value: stringOf(m.Value), Headers: [][2]string{}, Timestamp: millis(m.Timestamp), Partition: m.Partition}
				offset := m.Offset
				out.Offset = &offset
				for _, h := range m.Headers {
					out.Headers = append(out.Headers, [2]string{string(h.Key), string(h.Value)})
				}
				emit(out)
				done = m.Offset >= high-1
			case err := <-pc.Errors():
				fail("consume", err)
			case <-time.After(30 * time.Second):
				fail("consume", fmt.Errorf("nothing from partition %d for 30 s", p))
			}
		}
		if err := pc.Close(); err != nil {
			fail("partition consumer close", err)
		}
	}
	if err := consumer.Close(); err != nil {
		fail("consumer close", err)
	}
	if err := client.Close(); err != nil {
		fail("client close", err)
	}
}

// A group member: emits each assignment, and each message it takes, marked as consumed at once (sarama commits the
// marks every CommitInterval, and at the end of each session).
type member struct {
	mu     sync.Mutex
	got    int
	last   time.Time
	max    int
	cancel context.CancelFunc
}

func (m *member) Setup(s sarama.ConsumerGroupSession) error {
	partitions := append([]int32{}, s.Claims()[topicOf(s)]...)
	sort.Slice(partitions, func(i, j int) bool { return partitions[i] < partitions[j] })
	emit(map[string]interface{}{"event": "assigned", "partitions": partitions})
	return nil
}

func (m *member) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (m *member) ConsumeClaim(s sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for msg := range claim.Messages() {
		m.mu.Lock()
		if m.got >= m.max {
			m.mu.Unlock()
			return nil
		}
		s.MarkMessage(msg, "")
		m.got++
		m.last = time.Now()
		emit(map[string]interface{}{"partition": msg.Partition, "offset": msg.Offset, "value": stringOf(msg.Value)})
		if m.got >= m.max {
			m.cancel()
		}
		m.mu.Unlock()
	}
	return nil
}

func topicOf(s sarama.ConsumerGroupSession) string {
	for topic := range s.Claims() {
		return topic
	}
	return ""
}

// First message wait, as clients.py's still_waiting: the scenario produces only once every member has partitions.
const firstMessageWait = 30 * time.Second

// group TOPIC GROUP MAX IDLE_MS: consumes in a group until MAX messages, or IDLE_MS without one once it has had one.
func group(bootstrap string, c *sarama.Config, topic, groupID string, max int, idle time.Duration) {
	c.Consumer.Offsets.CommitInterval = 100 * time.Millisecond
	c.Consumer.Group.Session.Timeout = 6 * time.Second
	c.Consumer.Group.Heartbeat.Interval = 300 * time.Millisecond
	g, err := sarama.NewConsumerGroup([]string{bootstrap}, groupID, c)
	if err != nil {
		fail("group", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &member{max: max, last: time.Now(), cancel: cancel}
	go func() {
		for ctx.Err() == nil {
			if err := g.Consume(ctx, []string{topic}, m); err != nil && ctx.Err() == nil {
				fail("consume", err)
			}
		}
	}()
	go func() {
		for err := range g.Errors() {
			fail("group error", err)
		}
	}()
	for ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
		m.mu.Lock()
		wait := idle
		if m.got == 0 && wait < firstMessageWait {
			wait = firstMessageWait
		}
		if time.Since(m.last) > wait {
			cancel()
		}
		m.mu.Unlock()
	}
	if err := g.Close(); err != nil {
		fail("group close", err)
	}
}

// topic-state TOPIC: partitions (with each one's log start and end offsets) and the topic's configs.
func topicState(bootstrap string, c *sarama.Config, topic string) {
	a := admin(bootstrap, c)
	topics, err := a.ListTopics()
	if err != nil {
		fail("list topics", err)
	}
	detail, ok := topics[topic]
	if !ok {
		emit(map[string]interface{}{"exists": false})
		return
	}
	client, err := sarama.NewClient([]string{bootstrap}, c)
	if err != nil {
		fail("client", err)
	}
	offsets := [][2]int64{}
	for p := int32(0); p < detail.NumPartitions; p++ {
		low, high := bounds(client, topic, p)
		offsets = append(offsets, [2]int64{low, high})
	}
	entries, err := a.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic})
	if err != nil {
		fail("describe config", err)
	}
	configs := map[string]string{}
	for _, e := range entries {
		configs[e.Name] = e.Value
	}
	emit(map[string]interface{}{"exists": true, "partitions": detail.NumPartitions, "offsets": offsets, "configs": configs})
	client.Close()
	a.Close()
}

// offsets-for-time TOPIC PARTITIONS TIMESTAMP: per partition, the first offset whose timestamp is at least TIMESTAMP
// (-1 where there is none).
func offsetsForTime(bootstrap string, c *sarama.Config, topic string, partitions int32, timestamp int64) {
	client, err := sarama.NewClient([]string{bootstrap}, c)
	if err != nil {
		fail("client", err)
	}
	offsets := []int64{}
	for p := int32(0); p < partitions; p++ {
		offset, err := client.GetOffset(topic, p, timestamp)
		if err != nil {
			fail("offset for time", err)
		}
		offsets = append(offsets, offset)
	}
	emit(offsets)
	client.Close()
}

// admin ACTION ...: one admin call, then {"ok": true} or {"error": "..."} (the error the broker answered with).
func adminCall(bootstrap string, c *sarama.Config, action string, args []string) {
	a := admin(bootstrap, c)
	var err error
	switch action {
	case "create":
		partitions, _ := strconv.Atoi(args[1])
		configs := map[string]*string{}
		if len(args) > 2 {
			if err := json.Unmarshal([]byte(args[2]), &configs); err != nil {
				fail("configs", err)
			}
		}
		err = a.CreateTopic(args[0], &sarama.TopicDetail{NumPartitions: int32(partitions), ReplicationFactor: 1, ConfigEntries: configs}, false)
	case "alter":
		configs := map[string]*string{}
		if err := json.Unmarshal([]byte(args[1]), &configs); err != nil {
			fail("configs", err)
		}
		err = a.AlterConfig(sarama.TopicResource, args[0], configs, false)
	case "create-partitions":
		count, _ := strconv.Atoi(args[1])
		err = a.CreatePartitions(args[0], int32(count), nil, false)
	case "delete-records":
		partition, _ := strconv.Atoi(args[1])
		offset, _ := strconv.ParseInt(args[2], 10, 64)
		err = a.DeleteRecords(args[0], map[int32]int64{int32(partition): offset})
	case "delete":
		err = a.DeleteTopic(args[0])
	default:
		fail("admin", fmt.Errorf("unknown action %q", action))
	}
	if err != nil {
		emit(map[string]interface{}{"error": err.Error()})
	} else {
		emit(map[string]interface{}{"ok": true})
	}
	a.Close()
}

// group-state GROUP TOPIC PARTITIONS: the group as ListConsumerGroups and DescribeConsumerGroups give it, and its
// committed offsets.
func groupState(bootstrap string, c *sarama.Config, groupID, topic string, partitions int32) {
	a := admin(bootstrap, c)
	groups, err := a.ListConsumerGroups()
	if err != nil {
		fail("list groups", err)
	}
	described, err := a.DescribeConsumerGroups([]string{groupID})
	if err != nil {
		fail("describe groups", err)
	}
	ps := []int32{}
	for p := int32(0); p < partitions; p++ {
		ps = append(ps, p)
	}
	fetched, err := a.ListConsumerGroupOffsets(groupID, map[string][]int32{topic: ps})
	if err != nil {
		fail("group offsets", err)
	}
	committed := []int64{}
	for _, p := range ps {
		committed = append(committed, fetched.GetBlock(topic, p).Offset)
	}
	d := described[0]
	emit(map[string]interface{}{"listed": groups[groupID], "state": d.State, "protocolType": d.ProtocolType, "protocol": d.Protocol, "members": len(d.Members), "committed": committed})
	a.Close()
}

func main() {
	if len(os.Args) < 4 {
		fail("usage", fmt.Errorf("clients COMMAND BOOTSTRAP VERSION [ARGS]"))
	}
	command, bootstrap, args := os.Args[1], os.Args[2], os.Args[4:]
	c := config(os.Args[3])
	switch command {
	case "produce":
		produce(bootstrap, c, args[0], args[1], args[2] == "idempotent")
	case "consume":
		partitions, _ := strconv.Atoi(args[1])
		consume(bootstrap, c, args[0], int32(partitions))
	case "group":
		max, _ := strconv.Atoi(args[2])
		idle, _ := strconv.Atoi(args[3])
		group(bootstrap, c, args[0], args[1], max, time.Duration(idle)*time.Millisecond)
	case "topic-state":
		topicState(bootstrap, c, args[0])
	case "offsets-for-time":
		partitions, _ := strconv.Atoi(args[1])
		timestamp, _ := strconv.ParseInt(args[2], 10, 64)
		offsetsForTime(bootstrap, c, args[0], int32(partitions), timestamp)
	case "admin":
		adminCall(bootstrap, c, args[0], args[1:])
	case "group-state":
		partitions, _ := strconv.Atoi(args[2])
		groupState(bootstrap, c, args[0], args[1], int32(partitions))
	default:
		fail("usage", fmt.Errorf("unknown command %q", command))
	}
}
