#!/usr/bin/env bash
# LocalStack ready hook: the secrets and parameters template.yaml reads, and
# the Kafka topics (3 partitions each, with their dead-letter topics).
set -euo pipefail
secret() { awslocal secretsmanager create-secret --name "$1" --secret-string "$2" >/dev/null 2>&1 || \
  awslocal secretsmanager put-secret-value --secret-id "$1" --secret-string "$2" >/dev/null; }
secret ticketing/database-url "postgres://postgres:postgres@postgres:5432/ticketing"
secret ticketing/mongo-url "mongodb://mongo:27017/?retryWrites=false"
secret ticketing/redis-url "redis://redis:6379/0"
secret ticketing/jwt "$(head -c 48 /dev/urandom | base64 | tr -d '\n')"
awslocal ssm put-parameter --name /ticketing/local/hold-ttl-secs --value 600 --type String --overwrite >/dev/null
for topic in booking.requested seat.reserved seat.reservation_failed booking.confirmed booking.cancelled booking.expired event.created; do
  for name in "$topic" "$topic.dlq"; do
    docker exec ticketing-kafka-1 /opt/kafka/bin/kafka-topics.sh --bootstrap-server kafka:9092 \
      --create --if-not-exists --topic "$name" --partitions 3 --replication-factor 1 >/dev/null || true
  done
done
echo "ticketing: secrets, parameters and topics ready"
