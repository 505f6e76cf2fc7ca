"""Helpers shared by the Redis integration tests (test_redis_*.py): which
key-value shard a key lives in, a redis-py client for a node's Redis
listener, and waiting until the key-value shards answer writes.

Not a test itself; the tests import it from this folder (the folder of the
script run is on sys.path), next to fjord_cluster.py."""

import time

import redis

from fjord_cluster import Cluster, crc32c

KV = "__kv"      # the internal topic whose partitions are the key-value shards
SHARDS = 16      # `fjord serve`'s default --kv-shards, which the tests keep
READY_TIMEOUT = 30
PROBE_TIMEOUT_S = 5


def shard_of(key, shards=SHARDS):
    """The shard (partition of __kv) that holds `key` (a str): CRC32C of its
    UTF-8 bytes modulo the shard count, as the server routes it."""
    return crc32c(key.encode()) % shards


class AsyncWritesConnection(redis.Connection):
    """A connection that sends `WRITEMODE ASYNC` whenever it (re)connects, so
    that its writes are acknowledged before they are replicated."""

    def on_connect(self):
        super().on_connect()
        self.send_command("WRITEMODE", "ASYNC")
        reply = self.read_response()
        if reply not in (b"OK", "OK"):
            raise redis.ConnectionError("WRITEMODE ASYNC answered %r" % (reply,))


def client(node, socket_timeout=10, async_writes=False, **kwargs):
    """A redis-py client of `node`'s Redis listener (node: a fjord_cluster.Node).

    socket_timeout: seconds for each read and write on the socket; also the
        connect timeout unless `socket_connect_timeout` is given.
    async_writes: every connection of the client, including one made again
        after an error, asks for WRITEMODE ASYNC (AsyncWritesConnection).
        The client then runs on its own connection pool and `kwargs` go to
        that pool's connections: connection options only (socket_keepalive,
        decode_responses, ...), not client ones (single_connection_client).
    kwargs: more redis.Redis arguments, e.g. single_connection_client=True
        for one connection that keeps per-connection state (READONLY,
        CLIENT SETNAME, READMODE)."""
    kwargs.setdefault("socket_connect_timeout", socket_timeout)
    if async_writes:
        pool = redis.ConnectionPool(connection_class=AsyncWritesConnection, host="127.0.0.1",
                                    port=node.redis_port, socket_timeout=socket_timeout, **kwargs)
        return redis.Redis(connection_pool=pool)
    return redis.Redis(host="127.0.0.1", port=node.redis_port, socket_timeout=socket_timeout, **kwargs)


def wait_kv_ready(cluster, timeout=READY_TIMEOUT):
    """Retries `SET probe x` through every running node until each answers
    OK, and returns how many seconds that took. The shards are created a few
    seconds after the cluster forms and answer -TRYAGAIN until they have
    leaders; that, a reply other than OK, or a connection that fails or times
    out, means "not yet" (cluster.wait_for names the last one if `timeout`
    seconds pass). Any other error reply fails at once (AssertionError)."""
    def ready():
        for node in cluster.running_nodes():
            r = client(node, socket_timeout=PROBE_TIMEOUT_S)
            try:
                if r.set("probe", "x") is not True:
                    return False
            except redis.ResponseError as e:
                if not str(e).startswith("TRYAGAIN"):
                    raise AssertionError("SET probe x on %r: %s" % (node, e))
                return False
            except (redis.ConnectionError, redis.TimeoutError) as e:
                # An OSError is what wait_for retries (and reports on timeout).
                raise OSError("SET probe x on %r: %s: %s" % (node, type(e).__name__, e)) from e
            finally:
                r.close()
        return True
    started = time.monotonic()
    cluster.wait_for(ready, timeout, "SET probe x to answer OK on every node")
    return time.monotonic() - started


def start_kv_cluster(size=3, settle_timeout=20, **cluster_kwargs):
    """For a setUpClass that shares one cluster between its tests: a
    Cluster(size, **cluster_kwargs), started (as `with` would), settled and
    with its key-value shards ready. Returns (cluster, seconds wait_kv_ready
    took); the caller closes the cluster (cluster.close() in tearDownClass).
    If a step fails the cluster is closed before the error propagates."""
    cluster = Cluster(size, **cluster_kwargs)
    cluster.__enter__()
    try:
        cluster.wait_settled(timeout=settle_timeout)
        ready_s = wait_kv_ready(cluster)
    except BaseException:
        cluster.close()
        raise
    return cluster, ready_s
