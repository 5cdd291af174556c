"""Adds N object rows (many/k0000000, ...) straight into a Swift container's database.

A container listing (Swift's own or s3api's ListObjects) reads only this database, never the
objects, so the rows list exactly as objects PUT one by one would; PUTs run at ~120 objects/s on
the bench box (one Python process), which makes 100,000 keys a 14-minute setup. Debian's swift
module, system Python. Usage: swift_listing_rows.py DEVICES_DIR CONTAINER N
"""
import glob
import sys
import time

from swift.common.utils import Timestamp
from swift.container.backend import ContainerBroker

devices, container, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
brokers = [
    b
    for b in (ContainerBroker(p) for p in glob.glob(f"{devices}/*/containers/*/*/*/*.db"))
    if b.get_info()["container"] == container
]
if len(brokers) != 1:
    sys.exit(f"expected one database for container {container}, found {len(brokers)}")
broker = brokers[0]
now = Timestamp(time.time()).internal
batch = []
for i in range(n):
    batch.append(
        {
            "name": "many/k%07d" % i,
            "created_at": now,
            "size": 0,
            "content_type": "application/octet-stream",
            "etag": "d41d8cd98f00b204e9800998ecf8427e",
            "deleted": 0,
            "storage_policy_index": 0,
        }
    )
    if len(batch) == 10000:
        broker.merge_items(batch)
        batch = []
if batch:
    broker.merge_items(batch)
print(broker.get_info()["object_count"])
