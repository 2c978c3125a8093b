//! One Redis handle for both deployments: a single node (locally, or
//! ElastiCache with cluster mode off) or a cluster (ElastiCache with cluster
//! mode on), where each command goes to the node that owns its key's slot.
//! Every multi-key operation we run stays inside one `{eventId}` hash tag,
//! so scripts and pipelines never cross slots.

use std::time::Duration;

use redis::{
    aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig},
    cluster::ClusterClientBuilder,
    cluster_async::ClusterConnection,
    Cmd, Pipeline, RedisFuture, RedisResult, TlsCertificates, Value,
};

#[derive(Clone)]
pub enum RedisConn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl RedisConn {
    /// Connects with `timeout` for both connecting and each response, and
    /// one retry, so a dead Redis turns into a 503 within seconds. A
    /// `rediss://` URL is verified against `root_ca` (PEM) when given, else
    /// against the system's roots (ElastiCache's certificates are public).
    pub async fn connect(
        url: &str,
        cluster: bool,
        root_ca: Option<Vec<u8>>,
        timeout: Duration,
    ) -> RedisResult<RedisConn> {
        let certificates = root_ca.map(|pem| TlsCertificates { client_tls: None, root_cert: Some(pem) });
        if cluster {
            let mut builder =
                ClusterClientBuilder::new([url]).connection_timeout(timeout).response_timeout(timeout).retries(1);
            if let Some(certificates) = certificates {
                builder = builder.certs(certificates);
            }
            Ok(RedisConn::Cluster(builder.build()?.get_async_connection().await?))
        } else {
            let client = match certificates {
                Some(certificates) => redis::Client::build_with_tls(url, certificates)?,
                None => redis::Client::open(url)?,
            };
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(timeout)
                .set_response_timeout(timeout)
                .set_number_of_retries(1);
            Ok(RedisConn::Single(ConnectionManager::new_with_config(client, config).await?))
        }
    }
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            RedisConn::Single(conn) => conn.req_packed_command(cmd),
            RedisConn::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            RedisConn::Single(conn) => conn.req_packed_commands(pipeline, offset, count),
            RedisConn::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            RedisConn::Single(conn) => conn.get_db(),
            RedisConn::Cluster(conn) => conn.get_db(),
        }
    }
}
