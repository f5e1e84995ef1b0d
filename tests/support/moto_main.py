"""`python -m tests.support.moto_main -H HOST -p PORT`: moto_server with S3's multi-object delete authorized as S3
authorizes it, per object.

S3 checks DeleteObjects (POST /?delete) against s3:DeleteObject on each object named in the body (the S3 API
reference, DeleteObjects: "you must have the s3:DeleteObject permission" for the objects). moto checks it once
against the bucket ARN, so a key scoped to `bucket/prefix/*` (the registry's least-privilege policy) is refused
every multi-delete. distribution 2.8 only logs the failed delete of an upload's leftovers; 3.x fails the push
with 500 (blobwriter removeResources), so the stand-in must behave like S3 here.
"""

from __future__ import annotations

from typing import Any

import xmltodict
from moto.s3.exceptions import S3AccessDeniedError
from moto.s3.responses import S3Response
from moto.server import main

_original_post = S3Response._bucket_response_post


def _bucket_response_post(self: Any, request: Any, bucket_name: str) -> Any:
    if not request.headers.get("Content-Length"):
        return _original_post(self, request, bucket_name)
    self.path = self._get_path(request)
    if not self.is_delete_keys():
        return _original_post(self, request, bucket_name)
    self.data["Action"] = "DeleteObject"
    objects = xmltodict.parse(self.body, strip_whitespace=False)["Delete"].get("Object", [])
    objects = objects if isinstance(objects, list) else [objects]
    try:
        for item in objects:
            self._authenticate_and_authorize_s3_action(bucket_name=bucket_name, key_name=item["Key"])
    except S3AccessDeniedError:  # S3IAMRequest raises it (or its bucket subclass) for a denied action
        return self._bucket_response_delete_keys(bucket_name, authenticated=False)
    return self._bucket_response_delete_keys(bucket_name)


S3Response._bucket_response_post = _bucket_response_post  # type: ignore[method-assign]

if __name__ == "__main__":
    main()
