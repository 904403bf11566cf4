"""S3 source: list videos (and their sidecars) under s3://bucket/prefix, download, decode.

Downloads stream to a temporary file that is checked (size, and MD5 against a single-part ETag)
before it is renamed into the download cache; an interrupted or corrupted transfer is retried with
backoff, then quarantined. Objects already ingested (same URI and ETag recorded in an episode's
meta.json) are not downloaded again, so a nightly run can call this blindly.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import time
from pathlib import Path

from mu0.config import S3SourceConfig
from mu0.episodes import EpisodeData, list_episodes
from mu0.episodes.schema import META
from mu0.sources.base import SourceError
from mu0.sources.video import VIDEO_SUFFIXES, load_video_episode

log = logging.getLogger(__name__)
SIDECAR_SUFFIXES = (".json", ".depth.npy")


def parse_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or len(uri) <= 5:
        raise ValueError(f"not an s3:// URI: {uri!r} (expected s3://bucket/prefix)")
    bucket, _, prefix = uri[5:].partition("/")
    if not bucket:
        raise ValueError(f"no bucket in {uri!r}")
    return bucket, prefix


def make_client(endpoint_url: str = "", region: str = "us-east-1"):
    """A boto3 S3 client; credentials come from the environment (or an IAM role), never from files here."""
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=endpoint_url or None, region_name=region,
                        config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=10,
                                      read_timeout=60))


@dataclasses.dataclass(frozen=True)
class RemoteObject:
    key: str
    etag: str
    size: int


def list_objects(client, bucket: str, prefix: str) -> dict[str, RemoteObject]:
    objects = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            objects[item["Key"]] = RemoteObject(item["Key"], item["ETag"].strip('"'), int(item["Size"]))
    return objects


class S3Unreachable(SourceError):
    """The endpoint or bucket cannot be reached (after botocore's bounded retries); nothing was written."""


def reachable_listing(client, bucket: str, prefix: str, endpoint_url: str) -> dict[str, RemoteObject]:
    """list_objects, with an unreachable endpoint, a missing bucket or missing credentials said in one message
    that names the endpoint and what to check (botocore has already retried the request 3 times)."""
    from botocore.exceptions import (
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        ReadTimeoutError,
    )

    endpoint = endpoint_url or "AWS S3 (no MU0_S3_ENDPOINT_URL set)"
    try:
        return list_objects(client, bucket, prefix)
    except (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError) as exc:
        raise S3Unreachable(f"s3://{bucket}/{prefix}: cannot reach the S3 endpoint {endpoint} ({type(exc).__name__}, "
                            "after 3 attempts); check that the endpoint is up and the URL (MU0_S3_ENDPOINT_URL) is "
                            "right. Nothing was ingested.") from None
    except NoCredentialsError:
        raise S3Unreachable(f"s3://{bucket}/{prefix}: no AWS credentials for {endpoint}; set AWS_ACCESS_KEY_ID and "
                            "AWS_SECRET_ACCESS_KEY (or an IAM role). Nothing was ingested.") from None
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        what = {"NoSuchBucket": f"bucket '{bucket}' does not exist there; check the bucket name",
                "AccessDenied": "access denied; check the credentials' permissions on the bucket",
                "InvalidAccessKeyId": "the access key is not known there; check AWS_ACCESS_KEY_ID"}.get(
                    code, f"{code or 'error'}: {exc}")
        raise S3Unreachable(f"s3://{bucket}/{prefix} at {endpoint}: {what}. Nothing was ingested.") from None


def _stem(key: str) -> str:
    name = key.rsplit("/", 1)[-1]
    return key[: len(key) - len(name)] + name.split(".")[0]


def _download_once(client, bucket: str, obj: RemoteObject, dest: Path) -> None:
    tmp = dest.with_name(f".{dest.name}.part")
    md5 = hashlib.md5()
    size = 0
    try:
        body = client.get_object(Bucket=bucket, Key=obj.key)["Body"]
        with open(tmp, "wb") as f:
            for chunk in body.iter_chunks(1 << 20):
                f.write(chunk)
                md5.update(chunk)
                size += len(chunk)
            f.flush()
            os.fsync(f.fileno())
        if size != obj.size:
            raise OSError(f"got {size} of {obj.size} bytes")
        if "-" not in obj.etag and md5.hexdigest() != obj.etag:  # multipart ETags are not MD5s
            raise OSError(f"MD5 {md5.hexdigest()} does not match ETag {obj.etag}")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def download(client, bucket: str, obj: RemoteObject, dest: Path, attempts: int, backoff_s: float) -> Path:
    """Download `obj` to `dest` (verified), retrying transient failures; SourceError after the last."""
    from botocore.exceptions import BotoCoreError, ClientError

    if dest.exists() and dest.stat().st_size == obj.size:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    # kept: botocore's retries (standard/adaptive) resend a request, not a body cut mid-stream: 1 GET of 3 without it
    for attempt in range(1, attempts + 1):
        try:
            _download_once(client, bucket, obj, dest)
            return dest
        except (BotoCoreError, ClientError, OSError) as exc:
            last = f"{type(exc).__name__}: {exc}"
            log.warning("s3://%s/%s: download attempt %d/%d failed: %s", bucket, obj.key, attempt, attempts, last)
            if attempt < attempts:
                time.sleep(backoff_s * 2 ** (attempt - 1))
    raise SourceError(f"s3://{bucket}/{obj.key}: download failed after {attempts} attempts ({last})")


@dataclasses.dataclass(frozen=True)
class S3Video:
    """One video object (plus sidecars next to it) → one episode."""

    bucket: str
    video: RemoteObject
    sidecars: tuple[RemoteObject, ...]
    cache_dir: Path
    cfg: S3SourceConfig
    endpoint_url: str = ""
    region: str = "us-east-1"

    @property
    def label(self) -> str:
        return f"s3://{self.bucket}/{self.video.key}"

    @property
    def episode_ids(self) -> list[str]:
        stem = _stem(self.video.key).rsplit("/", 1)[-1]
        return [f"s3-{stem}-{self.video.etag[:10]}"]  # names quarantine notes; the episode id needs the bytes

    def build(self) -> list[EpisodeData]:
        client = make_client(self.endpoint_url, self.region)
        local_dir = self.cache_dir / self.bucket / self.video.etag
        local = {}
        for obj in (self.video, *self.sidecars):
            name = obj.key.rsplit("/", 1)[-1]
            local[obj.key] = download(client, self.bucket, obj, local_dir / name, self.cfg.max_attempts,
                                      self.cfg.retry_backoff_s)
        episode = load_video_episode(local[self.video.key], self.cfg.video, source_uri=self.label)
        episode.meta["source_etag"] = self.video.etag
        return [episode]


def ingested_sources(out_dir: Path) -> set[tuple[str, str]]:
    """(source_uri, source_etag) of every episode already under `out_dir`."""
    seen = set()
    for folder in list_episodes(out_dir):
        try:
            meta = json.loads((folder / META).read_text())
        except (OSError, ValueError):
            continue
        if "source_etag" in meta:
            seen.add((meta["source_uri"], meta["source_etag"]))
    return seen


def plan_s3_ingest(uri: str, out_dir: Path, cache_dir: Path, cfg: S3SourceConfig, endpoint_url: str = "",
                   region: str = "us-east-1") -> tuple[list[S3Video], list[str]]:
    """Jobs for the videos under `uri` not yet ingested, and the URIs skipped as already ingested."""
    bucket, prefix = parse_s3_uri(uri)
    client = make_client(endpoint_url, region)
    objects = reachable_listing(client, bucket, prefix, endpoint_url)
    seen = ingested_sources(out_dir)
    jobs, skipped = [], []
    for key, obj in sorted(objects.items()):
        if not key.lower().endswith(VIDEO_SUFFIXES):
            continue
        if (f"s3://{bucket}/{key}", obj.etag) in seen:
            skipped.append(f"s3://{bucket}/{key}")
            continue
        sidecars = tuple(objects[_stem(key) + s] for s in SIDECAR_SUFFIXES if _stem(key) + s in objects)
        jobs.append(S3Video(bucket, obj, sidecars, cache_dir, cfg, endpoint_url, region))
    return jobs, skipped
