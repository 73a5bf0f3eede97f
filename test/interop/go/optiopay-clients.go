// Drives optiopay/kafka, a Go Kafka client with a protocol implementation of its own, as Debian packages it
// (golang-github-optiopay-kafka-dev, 2.1.1), for the interop tests; built with jsonlines.go. It produces Kafka 0.8's
// message format (magic 0, no timestamps) in Produce v2, fetches record batches with Fetch v5, lists offsets with
// ListOffsets v2 and reads Metadata v5. Usage: clients COMMAND BOOTSTRAP [ARGS].
package main

import (
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/optiopay/kafka/v2"
	"github.com/optiopay/kafka/v2/proto"
)

func dial(bootstrap string) *kafka.Broker {
	conf := kafka.NewBrokerConf("optiopay-test")
	conf.DialTimeout = 10 * time.Second
	conf.DialRetryLimit = 3
	broker, err := kafka.Dial([]string{bootstrap}, conf)
	if err != nil {
		fail("dial", err)
	}
	return broker
}

func compression(name string) proto.Compression {
	switch name {
	case "none":
		return proto.CompressionNone
	case "gzip":
		return proto.CompressionGzip
	case "snappy":
		return proto.CompressionSnappy
	}
	fail("codec", fmt.Errorf("unknown codec %s", name))
	return 0
}

// produce BOOTSTRAP TOPIC CODEC: stdin's messages, each partition's in order, 100 to a produce request with
// acks=all; prints the base offset of each request per partition, and the errors.
func produce(bootstrap, topic, codec string) {
	broker := dial(bootstrap)
	defer broker.Close()
	conf := kafka.NewProducerConf()
	conf.Compression = compression(codec)
	conf.RequiredAcks = proto.RequiredAcksAll
	producer := broker.Producer(conf)
	byPartition := map[int32][]*proto.Message{}
	for _, m := range readMessages() {
		byPartition[m.Partition] = append(byPartition[m.Partition], &proto.Message{Key: bytesOf(m.Key), Value: bytesOf(m.Value)})
	}
	partitions := []int32{}
	for p := range byPartition {
		partitions = append(partitions, p)
	}
	sort.Slice(partitions, func(i, j int) bool { return partitions[i] < partitions[j] })
	bases := map[string][]int64{}
	errors := []string{}
	for _, p := range partitions {
		msgs := byPartition[p]
		for i := 0; i < len(msgs); i += 100 {
			end := i + 100
			if end > len(msgs) {
				end = len(msgs)
			}
			offset, err := producer.Produce(topic, p, msgs[i:end]...)
			if err != nil {
				errors = append(errors, err.Error())
				continue
			}
			key := strconv.Itoa(int(p))
			bases[key] = append(bases[key], offset)
		}
	}
	emit(map[string]interface{}{"errors": errors, "bases": bases})
}

// consume BOOTSTRAP TOPIC PARTITIONS MAXBYTES: every message of each partition from its first offset, until a fetch
// finds nothing more, fetching at most MAXBYTES a partition (the first batch whole, whatever its size).
func consume(bootstrap, topic string, partitions int, maxBytes int32) {
	broker := dial(bootstrap)
	defer broker.Close()
	for p := 0; p < partitions; p++ {
		conf := kafka.NewConsumerConf(topic, int32(p))
		conf.StartOffset = kafka.StartOffsetOldest
		conf.MaxFetchSize = maxBytes
		// everything is produced before: two empty fetches of 100 ms each mean the end
		conf.RetryLimit = 1
		conf.RetryWait = 10 * time.Millisecond
		conf.RequestTimeout = 100 * time.Millisecond
		consumer, err := broker.Consumer(conf)
		if err != nil {
			fail("consumer", err)
		}
		for {
			m, err := consumer.Consume()
			if err == kafka.ErrNoData {
				break
			}
			if err != nil {
				fail("consume", err)
			}
			offset := m.Offset
			emit(message{Key: stringOf(m.Key), Value: stringOf(m.Value), Headers: [][2]string{}, Partition: m.Partition, Offset: &offset})
		}
	}
}

// offsets BOOTSTRAP TOPIC PARTITION: the partition's earliest and latest offsets (ListOffsets).
func offsets(bootstrap, topic string, partition int32) {
	broker := dial(bootstrap)
	defer broker.Close()
	earliest, err := broker.OffsetEarliest(topic, partition)
	if err != nil {
		fail("earliest", err)
	}
	latest, err := broker.OffsetLatest(topic, partition)
	if err != nil {
		fail("latest", err)
	}
	emit(map[string]int64{"earliest": earliest, "latest": latest})
}

// metadata BOOTSTRAP: each topic's partitions with their leaders, and the brokers.
func metadata(bootstrap string) {
	broker := dial(bootstrap)
	defer broker.Close()
	meta, err := broker.Metadata()
	if err != nil {
		fail("metadata", err)
	}
	topics := map[string][]int32{}
	for _, t := range meta.Topics {
		if t.Err != nil {
			fail("topic "+t.Name, t.Err)
		}
		for _, p := range t.Partitions {
			topics[t.Name] = append(topics[t.Name], p.Leader)
		}
	}
	brokers := []string{}
	for _, b := range meta.Brokers {
		brokers = append(brokers, fmt.Sprintf("%d@%s:%d", b.NodeID, b.Host, b.Port))
	}
	emit(map[string]interface{}{"topics": topics, "brokers": brokers, "controller": meta.ControllerID})
}

func main() {
	command, bootstrap, args := commandLine()
	switch command {
	case "produce":
		produce(bootstrap, args[0], args[1])
	case "consume":
		consume(bootstrap, args[0], int(intArg(args[1])), int32(intArg(args[2])))
	case "offsets":
		offsets(bootstrap, args[0], int32(intArg(args[1])))
	case "metadata":
		metadata(bootstrap)
	default:
		fail("usage", fmt.Errorf("unknown command %s", command))
	}
}
