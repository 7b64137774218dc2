"""boto3 against a real cairnd: every operation an application uses, with the wire format of
the mode it runs in asserted (botocore's before-send hook sees each request as it is sent).

Run by suite_boto3.sh, once per mode (CAIRN_BOTO_MODE):
  https-default        HTTPS, boto3's default checksums: PutObject/UploadPart bodies are
                       aws-chunked STREAMING-UNSIGNED-PAYLOAD-TRAILER with a CRC32 trailer,
                       in HTTP chunked framing without Content-Length
  https-when-required  HTTPS with AWS_REQUEST_CHECKSUM_CALCULATION=when_required: no checksum
                       unless asked for, plain bodies
  http-default         plain HTTP, default checksums: the CRC32 in a header, the body signed
"""

import base64
import datetime
import hashlib
import os
import ssl
import time
import unittest
import urllib.error
import urllib.request
import zlib

import boto3
import botocore
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT = os.environ["CAIRN_BOTO_ENDPOINT"]
MODE = os.environ["CAIRN_BOTO_MODE"]
CA = os.environ["CAIRN_TEST_CA"]
ACCESS_KEY = os.environ["CAIRN_TEST_ACCESS_KEY"]
SECRET_KEY = os.environ["CAIRN_TEST_SECRET_KEY"]
REGION = os.environ.get("CAIRN_TEST_REGION", "us-east-1")
RUN_ID = os.environ.get("CAIRN_TEST_RUN_ID", str(os.getpid()))
SCRATCH = os.path.join(os.environ["CAIRN_TEST_WORK"], "boto3", MODE)

assert MODE in ("https-default", "https-when-required", "http-default"), MODE
assert (MODE == "https-when-required") == (
    os.environ.get("AWS_REQUEST_CHECKSUM_CALCULATION") == "when_required"
), "the when_required mode is set through the environment, as a user would"

MIB = 1024 * 1024


def crc32_b64(data):
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def sha256_b64(data):
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def md5_hex(data):
    return hashlib.md5(data).hexdigest()


class WireLog:
    """Records each request's operation and headers as botocore sends it."""

    def __init__(self):
        self.requests = []

    def __call__(self, request, event_name, **kwargs):
        operation = event_name.rsplit(".", 1)[-1]
        headers = {k.lower(): (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()}
        self.requests.append((operation, request.method, headers))

    def last(self, operation):
        for op, _method, headers in reversed(self.requests):
            if op == operation:
                return headers
        raise AssertionError(f"no {operation} request was sent")

    def all(self, operation):
        return [headers for op, _method, headers in self.requests if op == operation]

    def clear(self):
        self.requests.clear()


def make_client(secret=SECRET_KEY, wire=None, **config):
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=secret,
        verify=CA if ENDPOINT.startswith("https") else None,
        config=Config(
            s3={"addressing_style": "path"},
            # A failure must show, not be retried away.
            retries={"total_max_attempts": 1},
            **config,
        ),
    )
    if wire is not None:
        client.meta.events.register("before-send.s3.*", wire)
    return client


def error_code(ctx):
    return ctx.exception.response["Error"]["Code"]


def http_status(ctx):
    return ctx.exception.response["ResponseMetadata"]["HTTPStatusCode"]


class Boto3Test(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        os.makedirs(SCRATCH, exist_ok=True)
        cls.wire = WireLog()
        cls.s3 = make_client(wire=cls.wire)
        cls.bucket = f"boto3-{MODE}-{RUN_ID}"
        cls.s3.create_bucket(Bucket=cls.bucket)

    @classmethod
    def tearDownClass(cls):
        empty_and_delete(cls.s3, cls.bucket)

    def put(self, key, body, **kwargs):
        return self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, **kwargs)

    def get_bytes(self, key, **kwargs):
        return self.s3.get_object(Bucket=self.bucket, Key=key, **kwargs)["Body"].read()

    # -- the wire format of the mode -------------------------------------------------------

    def assert_upload_wire(self, headers, length):
        """The headers of a PutObject/UploadPart that botocore sent in this mode."""
        if MODE == "https-default":
            self.assertEqual(headers.get("x-amz-content-sha256"), "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
            self.assertEqual(headers.get("transfer-encoding"), "chunked")
            self.assertNotIn("content-length", headers)
            self.assertIn("aws-chunked", headers.get("content-encoding", ""))
            self.assertEqual(headers.get("x-amz-trailer"), "x-amz-checksum-crc32")
            self.assertEqual(headers.get("x-amz-decoded-content-length"), str(length))
        elif MODE == "https-when-required":
            self.assertNotIn("transfer-encoding", headers)
            self.assertNotIn("x-amz-trailer", headers)
            self.assertFalse([h for h in headers if h.startswith("x-amz-checksum-")], headers)
            self.assertEqual(headers.get("content-length"), str(length))
        else:
            self.assertNotIn("transfer-encoding", headers)
            self.assertNotIn("x-amz-trailer", headers)
            self.assertIn("x-amz-checksum-crc32", headers)
            sha = headers.get("x-amz-content-sha256", "")
            self.assertEqual(len(sha), 64, f"a signed body's hex SHA-256, not {sha!r}")

    def test_wire_format_of_put(self):
        data = os.urandom(300_000)
        self.wire.clear()
        self.put("wire/put", data)
        self.assert_upload_wire(self.wire.last("PutObject"), len(data))
        self.assertEqual(self.get_bytes("wire/put"), data)

    # -- buckets ---------------------------------------------------------------------------

    def test_bucket_lifecycle(self):
        name = f"boto3-life-{MODE}-{RUN_ID}"
        self.s3.create_bucket(Bucket=name)
        self.s3.head_bucket(Bucket=name)
        names = [b["Name"] for b in self.s3.list_buckets()["Buckets"]]
        self.assertIn(name, names)
        self.assertIn(self.bucket, names)
        with self.assertRaises(ClientError) as ctx:
            self.s3.create_bucket(Bucket=name)
        self.assertEqual(error_code(ctx), "BucketAlreadyOwnedByYou")
        location = self.s3.get_bucket_location(Bucket=name)["LocationConstraint"]
        self.assertIn(location, (None, "", REGION))
        self.put_in(name, "k", b"x")
        with self.assertRaises(ClientError) as ctx:
            self.s3.delete_bucket(Bucket=name)
        self.assertEqual(error_code(ctx), "BucketNotEmpty")
        self.s3.delete_object(Bucket=name, Key="k")
        self.s3.delete_bucket(Bucket=name)
        with self.assertRaises(ClientError) as ctx:
            self.s3.head_bucket(Bucket=name)
        self.assertEqual(http_status(ctx), 404)
        self.assertNotIn(name, [b["Name"] for b in self.s3.list_buckets()["Buckets"]])

    def put_in(self, bucket, key, body):
        self.s3.put_object(Bucket=bucket, Key=key, Body=body)

    def test_create_bucket_with_location_constraint(self):
        name = f"boto3-loc-{MODE}-{RUN_ID}"
        if REGION == "us-east-1":
            # AWS refuses us-east-1 as an explicit constraint; SDK users in other regions send
            # theirs. Cairn accepts its own region either way.
            self.s3.create_bucket(Bucket=name)
        else:
            self.s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
        self.s3.delete_bucket(Bucket=name)
        with self.assertRaises(ClientError) as ctx:
            self.s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "ap-south-2"})
        self.assertIn(error_code(ctx), ("InvalidLocationConstraint", "IllegalLocationConstraintException"))

    # -- objects ---------------------------------------------------------------------------

    def test_put_get_head_delete(self):
        for key, size in [("obj/empty", 0), ("obj/small", 1), ("obj/kib", 70_001), ("obj/multi-mib", 9 * MIB + 123)]:
            with self.subTest(size=size):
                data = os.urandom(size)
                put = self.put(key, data)
                self.assertEqual(put["ETag"], f'"{md5_hex(data)}"')
                head = self.s3.head_object(Bucket=self.bucket, Key=key)
                self.assertEqual(head["ContentLength"], size)
                self.assertEqual(head["ETag"], put["ETag"])
                self.assertIsInstance(head["LastModified"], datetime.datetime)
                got = self.s3.get_object(Bucket=self.bucket, Key=key)
                self.assertEqual(got["ContentLength"], size)
                self.assertEqual(got["Body"].read(), data)
                self.s3.delete_object(Bucket=self.bucket, Key=key)
                with self.assertRaises(ClientError) as ctx:
                    self.s3.get_object(Bucket=self.bucket, Key=key)
                self.assertEqual(error_code(ctx), "NoSuchKey")
        # Deleting what is not there succeeds, as on S3.
        self.s3.delete_object(Bucket=self.bucket, Key="obj/never-was")

    def test_put_from_unseekable_stream(self):
        """A file-like body without a known length: botocore streams it (chunked in the
        default HTTPS mode)."""
        data = os.urandom(2 * MIB + 7)
        path = os.path.join(SCRATCH, "stream.bin")
        with open(path, "wb") as f:
            f.write(data)
        with open(path, "rb") as f:
            self.s3.upload_fileobj(f, self.bucket, "obj/stream", Config=TransferConfig(multipart_threshold=64 * MIB))
        self.assertEqual(self.get_bytes("obj/stream"), data)

    def test_keys_with_reserved_and_unicode_characters(self):
        keys = ["a b/c+d=e&f", "ümlaut/ß/日本語", "semi;colon,comma:colon", "pct%20literal", "q?uestion#hash", "~tilde!*'()"]
        for key in keys:
            with self.subTest(key=key):
                self.put(key, key.encode())
                self.assertEqual(self.get_bytes(key), key.encode())
        listed = [o["Key"] for o in self.s3.list_objects_v2(Bucket=self.bucket)["Contents"]]
        for key in keys:
            self.assertIn(key, listed)
        for key in keys:
            self.s3.delete_object(Bucket=self.bucket, Key=key)

    def test_ranged_get(self):
        data = os.urandom(100_000)
        self.put("range/obj", data)
        for header, want, content_range in [
            ("bytes=0-9", data[:10], "bytes 0-9/100000"),
            ("bytes=99990-", data[99990:], "bytes 99990-99999/100000"),
            ("bytes=-5", data[-5:], "bytes 99995-99999/100000"),
            ("bytes=500-99999999", data[500:], "bytes 500-99999/100000"),
        ]:
            with self.subTest(range=header):
                got = self.s3.get_object(Bucket=self.bucket, Key="range/obj", Range=header)
                self.assertEqual(got["ResponseMetadata"]["HTTPStatusCode"], 206)
                self.assertEqual(got["ContentRange"], content_range)
                self.assertEqual(got["Body"].read(), want)
        with self.assertRaises(ClientError) as ctx:
            self.s3.get_object(Bucket=self.bucket, Key="range/obj", Range="bytes=100000-")
        self.assertEqual(error_code(ctx), "InvalidRange")
        self.assertEqual(http_status(ctx), 416)

    def test_metadata_round_trip(self):
        expires = datetime.datetime(2031, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
        self.put(
            "meta/obj",
            b"hello metadata",
            Metadata={"colour": "blue", "Mixed-Case": "Value With Spaces", "mtime": "1700000000.5"},
            ContentType="text/x-cairn",
            CacheControl="max-age=60",
            ContentDisposition='attachment; filename="m.txt"',
            ContentLanguage="en-GB",
            ContentEncoding="identity",
            Expires=expires,
        )
        for response in (
            self.s3.head_object(Bucket=self.bucket, Key="meta/obj"),
            self.s3.get_object(Bucket=self.bucket, Key="meta/obj"),
        ):
            self.assertEqual(
                response["Metadata"], {"colour": "blue", "mixed-case": "Value With Spaces", "mtime": "1700000000.5"}
            )
            self.assertEqual(response["ContentType"], "text/x-cairn")
            self.assertEqual(response["CacheControl"], "max-age=60")
            self.assertEqual(response["ContentDisposition"], 'attachment; filename="m.txt"')
            self.assertEqual(response["ContentLanguage"], "en-GB")
            # aws-chunked, which botocore adds in the default HTTPS mode, is not stored.
            self.assertEqual(response["ContentEncoding"], "identity")
            self.assertEqual(response["Expires"], expires)
        # Without a Content-Encoding, none is stored, whatever framing the upload used.
        self.put("meta/plain", b"plain")
        self.assertNotIn("ContentEncoding", self.s3.head_object(Bucket=self.bucket, Key="meta/plain"))
        # response-* overrides.
        got = self.s3.get_object(
            Bucket=self.bucket,
            Key="meta/obj",
            ResponseContentType="application/x-override",
            ResponseContentDisposition="inline",
            ResponseCacheControl="no-cache",
        )
        self.assertEqual(got["ContentType"], "application/x-override")
        self.assertEqual(got["ContentDisposition"], "inline")
        self.assertEqual(got["CacheControl"], "no-cache")

    def test_metadata_too_large(self):
        with self.assertRaises(ClientError) as ctx:
            self.put("meta/huge", b"x", Metadata={"big": "v" * 2100})
        self.assertEqual(error_code(ctx), "MetadataTooLarge")
        with self.assertRaises(ClientError) as ctx:
            self.s3.head_object(Bucket=self.bucket, Key="meta/huge")
        self.assertEqual(http_status(ctx), 404)

    def test_copy_object(self):
        data = os.urandom(1 * MIB + 3)
        src = self.put("copy/src", data, Metadata={"origin": "src"}, ContentType="text/plain")
        # COPY (the default directive) keeps the source's metadata.
        copied = self.s3.copy_object(Bucket=self.bucket, Key="copy/same", CopySource={"Bucket": self.bucket, "Key": "copy/src"})
        self.assertEqual(copied["CopyObjectResult"]["ETag"], src["ETag"])
        head = self.s3.head_object(Bucket=self.bucket, Key="copy/same")
        self.assertEqual(head["Metadata"], {"origin": "src"})
        self.assertEqual(head["ContentType"], "text/plain")
        self.assertEqual(self.get_bytes("copy/same"), data)
        # REPLACE takes the request's metadata.
        self.s3.copy_object(
            Bucket=self.bucket,
            Key="copy/replaced",
            CopySource=f"{self.bucket}/copy/src",
            MetadataDirective="REPLACE",
            Metadata={"origin": "replaced"},
            ContentType="application/x-new",
        )
        head = self.s3.head_object(Bucket=self.bucket, Key="copy/replaced")
        self.assertEqual(head["Metadata"], {"origin": "replaced"})
        self.assertEqual(head["ContentType"], "application/x-new")
        self.assertEqual(self.get_bytes("copy/replaced"), data)
        # Onto itself with REPLACE: new metadata, same bytes (rclone sets mtimes this way).
        self.s3.copy_object(
            Bucket=self.bucket,
            Key="copy/src",
            CopySource={"Bucket": self.bucket, "Key": "copy/src"},
            MetadataDirective="REPLACE",
            Metadata={"origin": "self", "mtime": "1"},
        )
        head = self.s3.head_object(Bucket=self.bucket, Key="copy/src")
        self.assertEqual(head["Metadata"], {"origin": "self", "mtime": "1"})
        self.assertEqual(self.get_bytes("copy/src"), data)
        # Onto itself without REPLACE: S3's InvalidRequest.
        with self.assertRaises(ClientError) as ctx:
            self.s3.copy_object(Bucket=self.bucket, Key="copy/src", CopySource={"Bucket": self.bucket, "Key": "copy/src"})
        self.assertEqual(error_code(ctx), "InvalidRequest")
        # Conditions on the source.
        with self.assertRaises(ClientError) as ctx:
            self.s3.copy_object(
                Bucket=self.bucket, Key="copy/cond", CopySource=f"{self.bucket}/copy/src", CopySourceIfMatch='"0000"'
            )
        self.assertEqual(error_code(ctx), "PreconditionFailed")
        # A key that needs URL encoding in x-amz-copy-source.
        self.put("copy/sp ace+ü", b"spaced")
        self.s3.copy_object(Bucket=self.bucket, Key="copy/dst", CopySource={"Bucket": self.bucket, "Key": "copy/sp ace+ü"})
        self.assertEqual(self.get_bytes("copy/dst"), b"spaced")
        with self.assertRaises(ClientError) as ctx:
            self.s3.copy_object(Bucket=self.bucket, Key="copy/x", CopySource={"Bucket": self.bucket, "Key": "copy/none"})
        self.assertEqual(error_code(ctx), "NoSuchKey")

    # -- multipart -------------------------------------------------------------------------

    def test_upload_file_multipart(self):
        data = os.urandom(13 * MIB + 5)
        path = os.path.join(SCRATCH, "mp-upload.bin")
        with open(path, "wb") as f:
            f.write(data)
        config = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, max_concurrency=4)
        self.wire.clear()
        self.s3.upload_file(path, self.bucket, "mp/upload-file", Config=config, ExtraArgs={"Metadata": {"via": "upload_file"}})
        sent = self.wire.all("UploadPart")
        self.assertEqual(len(sent), 3)
        lengths = sorted(int(h.get("x-amz-decoded-content-length") or h["content-length"]) for h in sent)
        self.assertEqual(lengths, [len(data) - 10 * MIB, 5 * MIB, 5 * MIB])
        for headers in sent:
            self.assert_upload_wire(headers, int(headers.get("x-amz-decoded-content-length") or headers["content-length"]))
        head = self.s3.head_object(Bucket=self.bucket, Key="mp/upload-file")
        self.assertEqual(head["ContentLength"], len(data))
        self.assertTrue(head["ETag"].endswith('-3"'), head["ETag"])
        self.assertEqual(head["Metadata"], {"via": "upload_file"})
        # download_file fetches in concurrent ranged GETs with the same thresholds.
        out = os.path.join(SCRATCH, "mp-download.bin")
        self.s3.download_file(self.bucket, "mp/upload-file", out, Config=config)
        with open(out, "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), hashlib.sha256(data).hexdigest())
        # Each part is readable by number.
        part2 = self.s3.get_object(Bucket=self.bucket, Key="mp/upload-file", PartNumber=2)
        self.assertEqual(part2["PartsCount"], 3)
        self.assertEqual(part2["Body"].read(), data[5 * MIB : 10 * MIB])

    def test_multipart_by_hand(self):
        key = "mp/by-hand"
        parts_data = [os.urandom(5 * MIB), os.urandom(5 * MIB + 1), os.urandom(1234)]
        upload_id = self.s3.create_multipart_upload(Bucket=self.bucket, Key=key, ContentType="application/x-mp")["UploadId"]
        uploads = self.s3.list_multipart_uploads(Bucket=self.bucket)["Uploads"]
        self.assertIn((key, upload_id), [(u["Key"], u["UploadId"]) for u in uploads])
        etags = []
        # Uploaded out of order, completed in order.
        for number in (2, 1, 3):
            body = parts_data[number - 1]
            part = self.s3.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body)
            self.assertEqual(part["ETag"], f'"{md5_hex(body)}"')
            etags.append((number, part["ETag"]))
        etags.sort()
        listed = self.s3.list_parts(Bucket=self.bucket, Key=key, UploadId=upload_id)
        self.assertEqual([(p["PartNumber"], p["ETag"], p["Size"]) for p in listed["Parts"]],
                         [(n, e, len(parts_data[n - 1])) for n, e in etags])
        # ListParts pages.
        page = self.s3.list_parts(Bucket=self.bucket, Key=key, UploadId=upload_id, MaxParts=2)
        self.assertTrue(page["IsTruncated"])
        rest = self.s3.list_parts(Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumberMarker=page["NextPartNumberMarker"])
        self.assertEqual([p["PartNumber"] for p in page["Parts"] + rest["Parts"]], [1, 2, 3])
        # A wrong part order is refused and the upload is still there.
        with self.assertRaises(ClientError) as ctx:
            self.s3.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id,
                MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in reversed(etags)]},
            )
        self.assertEqual(error_code(ctx), "InvalidPartOrder")
        done = self.s3.complete_multipart_upload(
            Bucket=self.bucket, Key=key, UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in etags]},
        )
        md5s = b"".join(hashlib.md5(p).digest() for p in parts_data)
        self.assertEqual(done["ETag"], f'"{hashlib.md5(md5s).hexdigest()}-3"')
        self.assertEqual(self.get_bytes(key), b"".join(parts_data))
        self.assertEqual(self.s3.head_object(Bucket=self.bucket, Key=key)["ContentType"], "application/x-mp")
        self.assertNotIn(upload_id, [u["UploadId"] for u in self.s3.list_multipart_uploads(Bucket=self.bucket).get("Uploads", [])])

        # Abort: the upload and its parts are gone.
        upload_id = self.s3.create_multipart_upload(Bucket=self.bucket, Key="mp/aborted")["UploadId"]
        self.s3.upload_part(Bucket=self.bucket, Key="mp/aborted", UploadId=upload_id, PartNumber=1, Body=b"abc")
        self.s3.abort_multipart_upload(Bucket=self.bucket, Key="mp/aborted", UploadId=upload_id)
        self.assertNotIn(upload_id, [u["UploadId"] for u in self.s3.list_multipart_uploads(Bucket=self.bucket).get("Uploads", [])])
        with self.assertRaises(ClientError) as ctx:
            self.s3.upload_part(Bucket=self.bucket, Key="mp/aborted", UploadId=upload_id, PartNumber=2, Body=b"def")
        self.assertEqual(error_code(ctx), "NoSuchUpload")
        with self.assertRaises(ClientError) as ctx:
            self.s3.list_parts(Bucket=self.bucket, Key="mp/aborted", UploadId=upload_id)
        self.assertEqual(error_code(ctx), "NoSuchUpload")
        with self.assertRaises(ClientError) as ctx:
            self.s3.head_object(Bucket=self.bucket, Key="mp/aborted")
        self.assertEqual(http_status(ctx), 404)

    def test_multipart_too_small_part(self):
        key = "mp/small"
        upload_id = self.s3.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]
        etags = []
        for number in (1, 2):
            part = self.s3.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=b"tiny")
            etags.append({"PartNumber": number, "ETag": part["ETag"]})
        with self.assertRaises(ClientError) as ctx:
            self.s3.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": etags})
        self.assertEqual(error_code(ctx), "EntityTooSmall")
        self.s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)

    def test_upload_part_copy(self):
        data = os.urandom(6 * MIB)
        self.put("mpc/src", data)
        key = "mpc/dst"
        upload_id = self.s3.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]
        p1 = self.s3.upload_part_copy(
            Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=1,
            CopySource={"Bucket": self.bucket, "Key": "mpc/src"}, CopySourceRange=f"bytes=0-{5 * MIB - 1}",
        )
        p2 = self.s3.upload_part_copy(
            Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=2,
            CopySource={"Bucket": self.bucket, "Key": "mpc/src"}, CopySourceRange=f"bytes={5 * MIB}-{6 * MIB - 1}",
        )
        self.s3.complete_multipart_upload(
            Bucket=self.bucket, Key=key, UploadId=upload_id,
            MultipartUpload={"Parts": [
                {"PartNumber": 1, "ETag": p1["CopyPartResult"]["ETag"]},
                {"PartNumber": 2, "ETag": p2["CopyPartResult"]["ETag"]},
            ]},
        )
        self.assertEqual(self.get_bytes(key), data)

    # -- listings --------------------------------------------------------------------------

    def put_listing_tree(self, prefix):
        keys = [f"{prefix}/{name}" for name in
                ["a/1", "a/2", "a/3", "a/sub/4", "b/1", "b/2", "c", "d", "e/f/g", "z"]]
        for key in keys:
            self.put(key, key.encode())
        return keys

    def test_list_objects_v2_pagination(self):
        keys = self.put_listing_tree("l2")
        # Flat, two at a time, through the paginator (continuation tokens).
        pages = list(self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix="l2/", PaginationConfig={"PageSize": 2}))
        self.assertEqual(len(pages), 5)
        self.assertEqual([o["Key"] for p in pages for o in p.get("Contents", [])], sorted(keys))
        self.assertTrue(all(p["KeyCount"] <= 2 for p in pages))
        # With a delimiter: prefixes and keys interleave across pages.
        pages = list(self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix="l2/", Delimiter="/", PaginationConfig={"PageSize": 2}))
        contents = [o["Key"] for p in pages for o in p.get("Contents", [])]
        prefixes = [c["Prefix"] for p in pages for c in p.get("CommonPrefixes", [])]
        self.assertEqual(contents, ["l2/c", "l2/d", "l2/z"])
        self.assertEqual(prefixes, ["l2/a/", "l2/b/", "l2/e/"])
        # Nested prefix, StartAfter, and the owner only on request.
        got = self.s3.list_objects_v2(Bucket=self.bucket, Prefix="l2/a/", Delimiter="/", StartAfter="l2/a/1")
        self.assertEqual([o["Key"] for o in got["Contents"]], ["l2/a/2", "l2/a/3"])
        self.assertEqual([c["Prefix"] for c in got["CommonPrefixes"]], ["l2/a/sub/"])
        self.assertNotIn("Owner", got["Contents"][0])
        got = self.s3.list_objects_v2(Bucket=self.bucket, Prefix="l2/c", FetchOwner=True)
        self.assertIn("ID", got["Contents"][0]["Owner"])
        self.assertEqual(got["Contents"][0]["Size"], len(b"l2/c"))
        self.assertEqual(got["Contents"][0]["ETag"], f'"{md5_hex(b"l2/c")}"')
        # An empty result.
        got = self.s3.list_objects_v2(Bucket=self.bucket, Prefix="l2/nothing/")
        self.assertEqual(got["KeyCount"], 0)
        self.assertNotIn("Contents", got)

    def test_list_objects_v1(self):
        keys = self.put_listing_tree("l1")
        pages = list(self.s3.get_paginator("list_objects").paginate(
            Bucket=self.bucket, Prefix="l1/", PaginationConfig={"PageSize": 3}))
        self.assertEqual(len(pages), 4)
        self.assertEqual([o["Key"] for p in pages for o in p.get("Contents", [])], sorted(keys))
        pages = list(self.s3.get_paginator("list_objects").paginate(
            Bucket=self.bucket, Prefix="l1/", Delimiter="/", PaginationConfig={"PageSize": 2}))
        self.assertEqual([o["Key"] for p in pages for o in p.get("Contents", [])], ["l1/c", "l1/d", "l1/z"])
        self.assertEqual([c["Prefix"] for p in pages for c in p.get("CommonPrefixes", [])], ["l1/a/", "l1/b/", "l1/e/"])
        got = self.s3.list_objects(Bucket=self.bucket, Prefix="l1/", Marker="l1/b/2")
        self.assertEqual([o["Key"] for o in got["Contents"]], ["l1/c", "l1/d", "l1/e/f/g", "l1/z"])
        self.assertFalse(got["IsTruncated"])

    def test_list_object_versions(self):
        self.put("ver/one", b"1")
        got = self.s3.list_object_versions(Bucket=self.bucket, Prefix="ver/")
        self.assertEqual([(v["Key"], v["VersionId"], v["IsLatest"]) for v in got["Versions"]], [("ver/one", "null", True)])
        versioning = self.s3.get_bucket_versioning(Bucket=self.bucket)
        self.assertNotIn("Status", versioning)

    def test_delete_objects(self):
        keys = [f"del/{i:03d}" for i in range(25)]
        for key in keys:
            self.put(key, b"d")
        self.wire.clear()
        result = self.s3.delete_objects(
            Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in keys[:20]] + [{"Key": "del/missing"}]})
        sent = self.wire.last("DeleteObjects")
        self.assertTrue("content-md5" in sent or any(h.startswith("x-amz-checksum-") for h in sent), sent)
        self.assertEqual(sorted(d["Key"] for d in result["Deleted"]), sorted(keys[:20] + ["del/missing"]))
        self.assertNotIn("Errors", result)
        result = self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in keys[20:]], "Quiet": True})
        self.assertNotIn("Deleted", result)
        self.assertNotIn("Errors", result)
        self.assertNotIn("Contents", self.s3.list_objects_v2(Bucket=self.bucket, Prefix="del/"))

    # -- presigned URLs and conditions -----------------------------------------------------

    def urlopen(self, request):
        context = ssl.create_default_context(cafile=CA) if ENDPOINT.startswith("https") else None
        return urllib.request.urlopen(request, context=context, timeout=30)

    def test_presigned_get_and_put(self):
        # botocore presigns with SigV2 query parameters unless told to use SigV4.
        for signer, client in (("default (SigV2)", self.s3), ("s3v4", make_client(signature_version="s3v4"))):
            with self.subTest(signer=signer):
                key = f"pre/signed ü {signer}"
                data = os.urandom(150_000)
                url = client.generate_presigned_url(
                    "put_object", Params={"Bucket": self.bucket, "Key": key, "ContentType": "application/x-pre"}, ExpiresIn=300)
                self.assertEqual("X-Amz-Signature=" in url, signer == "s3v4", url)
                put = urllib.request.Request(url, data=data, method="PUT", headers={"Content-Type": "application/x-pre"})
                with self.urlopen(put) as response:
                    self.assertEqual(response.status, 200)
                url = client.generate_presigned_url("get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=300)
                with self.urlopen(url) as response:
                    self.assertEqual(response.read(), data)
                    self.assertEqual(response.headers["Content-Type"], "application/x-pre")
                # A tampered signature is refused.
                bad = url.replace("Signature=", "Signature=00")
                with self.assertRaises(urllib.error.HTTPError) as ctx:
                    self.urlopen(bad)
                self.assertEqual(ctx.exception.code, 403)
                self.assertIn(b"<Code>SignatureDoesNotMatch</Code>", ctx.exception.read())
                # Bucket-level and other operations (botocore signs a bucket's path as /bucket/).
                url = client.generate_presigned_url("list_objects", Params={"Bucket": self.bucket, "Prefix": "pre/"})
                with self.urlopen(url) as response:
                    self.assertIn(b"<Key>pre/signed", response.read())
                url = client.generate_presigned_url("list_objects_v2", Params={"Bucket": self.bucket, "Prefix": "pre/"})
                with self.urlopen(url) as response:
                    self.assertIn(b"<KeyCount>", response.read())
                url = client.generate_presigned_url("head_object", Params={"Bucket": self.bucket, "Key": key})
                with self.urlopen(urllib.request.Request(url, method="HEAD")) as response:
                    self.assertEqual(int(response.headers["Content-Length"]), len(data))
                # So is an expired URL.
                url = client.generate_presigned_url("get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=-10 if signer != "s3v4" else 1)
                if signer == "s3v4":
                    time.sleep(2)
                with self.assertRaises(urllib.error.HTTPError) as ctx:
                    self.urlopen(url)
                self.assertEqual(ctx.exception.code, 403)
                self.assertIn(b"<Code>AccessDenied</Code>", ctx.exception.read())
                url = client.generate_presigned_url("delete_object", Params={"Bucket": self.bucket, "Key": key})
                with self.urlopen(urllib.request.Request(url, method="DELETE")) as response:
                    self.assertEqual(response.status, 204)
                with self.assertRaises(ClientError) as ctx:
                    self.s3.head_object(Bucket=self.bucket, Key=key)
                self.assertEqual(http_status(ctx), 404)

    def test_conditional_get(self):
        put = self.put("cond/obj", b"conditional")
        etag = put["ETag"]
        with self.assertRaises(ClientError) as ctx:
            self.s3.get_object(Bucket=self.bucket, Key="cond/obj", IfNoneMatch=etag)
        self.assertEqual(http_status(ctx), 304)
        self.assertEqual(self.get_bytes("cond/obj", IfNoneMatch='"other"'), b"conditional")
        self.assertEqual(self.get_bytes("cond/obj", IfMatch=etag), b"conditional")
        with self.assertRaises(ClientError) as ctx:
            self.s3.get_object(Bucket=self.bucket, Key="cond/obj", IfMatch='"other"')
        self.assertEqual(error_code(ctx), "PreconditionFailed")
        future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
        past = datetime.datetime(2001, 1, 1, tzinfo=datetime.timezone.utc)
        with self.assertRaises(ClientError) as ctx:
            self.s3.get_object(Bucket=self.bucket, Key="cond/obj", IfModifiedSince=future)
        self.assertEqual(http_status(ctx), 304)
        self.assertEqual(self.get_bytes("cond/obj", IfModifiedSince=past), b"conditional")
        with self.assertRaises(ClientError) as ctx:
            self.s3.head_object(Bucket=self.bucket, Key="cond/obj", IfUnmodifiedSince=past)
        self.assertEqual(http_status(ctx), 412)
        # Conditional writes.
        with self.assertRaises(ClientError) as ctx:
            self.put("cond/obj", b"new", IfNoneMatch="*")
        self.assertEqual(error_code(ctx), "PreconditionFailed")
        self.assertEqual(self.get_bytes("cond/obj"), b"conditional")

    # -- errors ----------------------------------------------------------------------------

    def test_errors(self):
        with self.assertRaises(ClientError) as ctx:
            self.s3.get_object(Bucket=self.bucket, Key="err/none")
        self.assertEqual(error_code(ctx), "NoSuchKey")
        self.assertEqual(http_status(ctx), 404)
        missing = f"boto3-missing-{RUN_ID}"
        with self.assertRaises(ClientError) as ctx:
            self.s3.get_object(Bucket=missing, Key="k")
        self.assertEqual(error_code(ctx), "NoSuchBucket")
        with self.assertRaises(ClientError) as ctx:
            self.s3.list_objects_v2(Bucket=missing)
        self.assertEqual(error_code(ctx), "NoSuchBucket")
        with self.assertRaises(ClientError) as ctx:
            self.s3.put_object(Bucket=missing, Key="k", Body=b"x")
        self.assertEqual(error_code(ctx), "NoSuchBucket")
        with self.assertRaises(ClientError) as ctx:
            self.s3.create_bucket(Bucket=self.bucket)
        self.assertEqual(error_code(ctx), "BucketAlreadyOwnedByYou")
        with self.assertRaises(ClientError) as ctx:
            self.s3.create_bucket(Bucket="Not_A_Valid_Bucket")
        self.assertEqual(error_code(ctx), "InvalidBucketName")

        wrong = make_client(secret=SECRET_KEY[:-1] + "X")
        for call in (
            lambda: wrong.list_buckets(),
            lambda: wrong.get_object(Bucket=self.bucket, Key="err/none"),
            lambda: wrong.put_object(Bucket=self.bucket, Key="err/wrong-secret", Body=os.urandom(70_000)),
        ):
            with self.assertRaises(ClientError) as ctx:
                call()
            self.assertEqual(error_code(ctx), "SignatureDoesNotMatch")
            self.assertEqual(http_status(ctx), 403)
        # The refused upload left nothing behind.
        with self.assertRaises(ClientError) as ctx:
            self.s3.head_object(Bucket=self.bucket, Key="err/wrong-secret")
        self.assertEqual(http_status(ctx), 404)
        unknown = boto3.session.Session().client(
            "s3", endpoint_url=ENDPOINT, region_name=REGION, aws_access_key_id="NOSUCHKEY0000000",
            aws_secret_access_key=SECRET_KEY, verify=CA if ENDPOINT.startswith("https") else None,
            config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}),
        )
        with self.assertRaises(ClientError) as ctx:
            unknown.list_buckets()
        self.assertEqual(error_code(ctx), "InvalidAccessKeyId")
        anonymous = boto3.session.Session().client(
            "s3", endpoint_url=ENDPOINT, region_name=REGION, verify=CA if ENDPOINT.startswith("https") else None,
            config=Config(signature_version=botocore.UNSIGNED, s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}),
        )
        with self.assertRaises(ClientError) as ctx:
            anonymous.get_object(Bucket=self.bucket, Key="err/none")
        self.assertEqual(error_code(ctx), "AccessDenied")

    def test_bad_content_md5(self):
        with self.assertRaises(ClientError) as ctx:
            self.put("err/md5", b"body", ContentMD5=base64.b64encode(hashlib.md5(b"other").digest()).decode())
        self.assertEqual(error_code(ctx), "BadDigest")
        with self.assertRaises(ClientError) as ctx:
            self.s3.head_object(Bucket=self.bucket, Key="err/md5")
        self.assertEqual(http_status(ctx), 404)

    def test_wrong_checksum_is_refused(self):
        with self.assertRaises(ClientError) as ctx:
            self.put("err/crc", b"body", ChecksumCRC32=crc32_b64(b"other"))
        self.assertEqual(error_code(ctx), "BadDigest")
        with self.assertRaises(ClientError) as ctx:
            self.s3.head_object(Bucket=self.bucket, Key="err/crc")
        self.assertEqual(http_status(ctx), 404)

    # -- checksums on GET ------------------------------------------------------------------

    def test_checksum_mode_on_get(self):
        data = os.urandom(3 * MIB + 11)
        self.put("sum/default", data)
        got = self.s3.get_object(Bucket=self.bucket, Key="sum/default", ChecksumMode="ENABLED")
        body = got["Body"].read()
        self.assertEqual(body, data)
        if MODE == "https-when-required":
            # Nothing was asked for, so nothing was sent or stored.
            self.assertNotIn("ChecksumCRC32", got)
        else:
            self.assertEqual(got["ChecksumCRC32"], crc32_b64(data))
        # An explicit algorithm in every mode: stored, returned, validated by botocore.
        self.put("sum/sha256", data, ChecksumAlgorithm="SHA256")
        for response in (
            self.s3.get_object(Bucket=self.bucket, Key="sum/sha256", ChecksumMode="ENABLED"),
            self.s3.head_object(Bucket=self.bucket, Key="sum/sha256", ChecksumMode="ENABLED"),
        ):
            self.assertEqual(response["ChecksumSHA256"], sha256_b64(data))
            if "Body" in response:
                self.assertEqual(response["Body"].read(), data)
        # Without the mode, no checksum; on a range, never the whole object's.
        self.assertNotIn("ChecksumSHA256", self.s3.head_object(Bucket=self.bucket, Key="sum/sha256"))
        ranged = self.s3.get_object(Bucket=self.bucket, Key="sum/sha256", ChecksumMode="ENABLED", Range="bytes=0-99")
        self.assertNotIn("ChecksumSHA256", ranged)
        self.assertEqual(ranged["Body"].read(), data[:100])

    def test_checksum_of_multipart_upload(self):
        data = os.urandom(11 * MIB)
        path = os.path.join(SCRATCH, "mp-sum.bin")
        with open(path, "wb") as f:
            f.write(data)
        config = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
        self.s3.upload_file(path, self.bucket, "sum/multipart", Config=config, ExtraArgs={"ChecksumAlgorithm": "CRC32"})
        got = self.s3.get_object(Bucket=self.bucket, Key="sum/multipart", ChecksumMode="ENABLED")
        self.assertEqual(got["Body"].read(), data)
        parts = self.s3.get_object(Bucket=self.bucket, Key="sum/multipart", ChecksumMode="ENABLED", PartNumber=1)
        self.assertEqual(parts["Body"].read(), data[: 5 * MIB])


def empty_and_delete(s3, bucket):
    try:
        for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
            for upload in page.get("Uploads", []):
                s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
        s3.delete_bucket(Bucket=bucket)
    except ClientError as e:
        if e.response["Error"]["Code"] != "NoSuchBucket":
            raise


if __name__ == "__main__":
    unittest.main()
