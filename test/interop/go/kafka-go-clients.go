// Drives kafka-go, segmentio's Go Kafka client, as Debian packages it (golang-github-segmentio-kafka-go-dev, 0.2.1),
// for the interop tests; built with jsonlines.go. A protocol implementation of its own, which speaks Kafka 0.10's
// message format (Produce and Fetch v2) and the group APIs of that time, so messages have no headers. Usage:
// clients COMMAND BOOTSTRAP [ARGS].
package main

import (
	"context"
	"fmt"
	"log"
	"regexp"
	"sort"
	"strconv"
	"time"

	kafka "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/gzip"
	"github.com/segmentio/kafka-go/lz4"
	"github.com/segmentio/kafka-go/snappy"
)

func codec(name string) kafka.CompressionCodec {
	switch name {
	case "none":
		return nil
	case "gzip":
		return gzip.NewCompressionCodec()
	case "snappy":
		return snappy.NewCompressionCodec()
	case "lz4":
		return lz4.NewCompressionCodec()
	}
	fail("codec", fmt.Errorf("unknown codec %s", name))
	return nil
}

func leader(bootstrap, topic string, partition int) *kafka.Conn {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := kafka.DialLeader(ctx, "tcp", bootstrap, topic, partition)
	if err != nil {
		fail("dial leader", err)
	}
	return conn
}

// produce BOOTSTRAP TOPIC CODEC: stdin's messages, each partition's in order, 100 to a produce request with
// acks=all (the connection's leader answers once they are stored), timestamps as given.
func produce(bootstrap, topic, codecName string) {
	byPartition := map[int][]kafka.Message{}
	for _, m := range readMessages() {
		p := int(m.Partition)
		byPartition[p] = append(byPartition[p], kafka.Message{Key: bytesOf(m.Key), Value: bytesOf(m.Value), Time: fromMillis(m.Timestamp)})
	}
	errors := []string{}
	for partition, msgs := range byPartition {
		conn := leader(bootstrap, topic, partition)
		if err := conn.SetRequiredAcks(-1); err != nil {
			fail("acks", err)
		}
		for i := 0; i < len(msgs); i += 100 {
			end := i + 100
			if end > len(msgs) {
				end = len(msgs)
			}
			conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
			if _, err := conn.WriteCompressedMessages(codec(codecName), msgs[i:end]...); err != nil {
				errors = append(errors, err.Error())
			}
		}
		conn.Close()
	}
	emit(map[string]interface{}{"errors": errors})
}

// consume BOOTSTRAP TOPIC PARTITIONS: every message of each partition, from its first offset to its last.
func consume(bootstrap, topic string, partitions int) {
	for p := 0; p < partitions; p++ {
		conn := leader(bootstrap, topic, p)
		first, last, err := conn.ReadOffsets()
		if err != nil {
			fail("offsets", err)
		}
		if _, err := conn.Seek(first, kafka.SeekAbsolute); err != nil {
			fail("seek", err)
		}
		for next := first; next < last; {
			conn.SetReadDeadline(time.Now().Add(30 * time.Second))
			batch := conn.ReadBatch(1, 1<<20)
			for {
				m, err := batch.ReadMessage()
				if err != nil {
					break
				}
				offset := m.Offset
				emit(message{Key: stringOf(m.Key), Value: stringOf(m.Value), Headers: [][2]string{}, Timestamp: millis(m.Time), Partition: int32(p), Offset: &offset})
				next = m.Offset + 1
			}
			if err := batch.Close(); err != nil {
				fail("fetch", err)
			}
		}
		conn.Close()
	}
}

// The Reader logs the partitions it was given: "subscribed to partitions: map[0:12 3:0]" (partition:offset).
var subscribed = regexp.MustCompile(`subscribed to partitions: map\[(.*)\]`)
var partitionOffset = regexp.MustCompile(`(\d+):-?\d+`)

type assignments struct{}

func (assignments) Write(line []byte) (int, error) {
	if found := subscribed.FindSubmatch(line); found != nil {
		partitions := []int{}
		for _, pair := range partitionOffset.FindAllSubmatch(found[1], -1) {
			p, _ := strconv.Atoi(string(pair[1]))
			partitions = append(partitions, p)
		}
		sort.Ints(partitions)
		emit(map[string]interface{}{"event": "assigned", "partitions": partitions})
	}
	return len(line), nil
}

// group BOOTSTRAP TOPIC GROUP MAX IDLE_MS: a member of GROUP that commits each message before taking the next, and
// stops after MAX messages or IDLE_MS without one. This version's Reader does not leave its group when closed (it
// sends no LeaveGroup), so the others take over its partitions once its session times out: 2 s here.
func group(bootstrap, topic, groupID string, max int, idle time.Duration) {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:           []string{bootstrap},
		GroupID:           groupID,
		Topic:             topic,
		MinBytes:          1,
		MaxBytes:          1 << 20,
		MaxWait:           200 * time.Millisecond,
		HeartbeatInterval: 300 * time.Millisecond,
		SessionTimeout:    2 * time.Second,
		RebalanceTimeout:  10 * time.Second,
		Logger:            log.New(assignments{}, "", 0),
	})
	defer r.Close()
	for n := 0; n < max; n++ {
		ctx, cancel := context.WithTimeout(context.Background(), idle)
		m, err := r.FetchMessage(ctx)
		if err != nil {
			cancel()
			if err == context.DeadlineExceeded {
				return
			}
			fail("fetch", err)
		}
		emit(map[string]interface{}{"partition": m.Partition, "offset": m.Offset, "value": string(m.Value)})
		if err := r.CommitMessages(ctx, m); err != nil {
			fail("commit", err)
		}
		cancel()
	}
}

func main() {
	command, bootstrap, args := commandLine()
	switch command {
	case "produce":
		produce(bootstrap, args[0], args[1])
	case "consume":
		consume(bootstrap, args[0], int(intArg(args[1])))
	case "group":
		group(bootstrap, args[0], args[1], int(intArg(args[2])), time.Duration(intArg(args[3]))*time.Millisecond)
	default:
		fail("command", fmt.Errorf("unknown command %s", command))
	}
}
