//! Document files in S3: presigned uploads and downloads, and the reads the upload check
//! needs. File bytes never pass through the API functions.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::Client;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::StoreError;

/// How long an upload URL is valid.
pub const UPLOAD_URL_TTL: Duration = Duration::from_secs(3600);
/// How long a download URL is valid.
pub const DOWNLOAD_URL_TTL: Duration = Duration::from_secs(300);

/// A presigned request: the URL and the headers the client must send with it (exactly
/// the signed ones).
#[derive(Debug, Clone)]
pub struct Presigned {
    /// The URL.
    pub url: String,
    /// Headers that are part of the signature.
    pub headers: Vec<(String, String)>,
}

/// What [`Objects::fetch_sized`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// No such object.
    Missing,
    /// An object of another size (its body was not read).
    OtherSize(u64),
    /// The object's bytes.
    Bytes(Vec<u8>),
}

/// Base64 SHA-256 of `bytes`: the form of declared checksums and of recorded hashes.
pub fn sha256_base64(bytes: &[u8]) -> String {
    STANDARD.encode(Sha256::digest(bytes))
}

/// The header names a presigned URL signs (`X-Amz-SignedHeaders`, `;`-separated, URL
/// encoded), minus `host`.
fn signed_headers(url: &str) -> Vec<String> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "X-Amz-SignedHeaders")
        .map(|(_, v)| {
            v.split(';')
                .filter(|h| !h.is_empty() && !h.eq_ignore_ascii_case("host"))
                .map(str::to_ascii_lowercase)
                .collect()
        })
        .unwrap_or_default()
}

/// The documents bucket.
#[derive(Clone, Debug)]
pub struct Objects {
    client: Client,
    bucket: String,
}

/// An error of an S3 call, and whether it means S3 could not serve us (timeout, refused or
/// dropped connection, 5xx such as `SlowDown`) rather than refusing this request.
pub(crate) trait S3Failure: std::error::Error + Send + Sync + 'static {
    /// True when S3 is unavailable: the API answers 503 with `Retry-After`.
    fn unavailable(&self) -> bool;
}

impl<E, R> S3Failure for aws_sdk_s3::error::SdkError<E, R>
where
    E: std::error::Error + Send + Sync + 'static,
    R: super::HttpStatus + std::fmt::Debug + Send + Sync + 'static,
{
    fn unavailable(&self) -> bool {
        super::is_unavailable(self)
    }
}

/// A body that stopped arriving: the connection dropped or stalled (the SDK's stalled
/// stream protection ends it).
impl S3Failure for aws_sdk_s3::primitives::ByteStreamError {
    fn unavailable(&self) -> bool {
        true
    }
}

impl S3Failure for aws_sdk_s3::presigning::PresigningConfigError {
    fn unavailable(&self) -> bool {
        false
    }
}

fn s3_err<E: S3Failure>(context: &'static str) -> impl FnOnce(E) -> StoreError {
    move |e| {
        if e.unavailable() {
            StoreError::Unavailable {
                service: "S3",
                context,
                source: Box::new(e),
            }
        } else {
            StoreError::S3 {
                context,
                source: Box::new(e),
            }
        }
    }
}

impl Objects {
    /// The bucket `bucket` through `client`.
    pub fn new(client: Client, bucket: impl Into<String>) -> Objects {
        Objects {
            client,
            bucket: bucket.into(),
        }
    }

    /// How long an upload URL stays valid.
    pub fn upload_url_ttl(&self) -> Duration {
        UPLOAD_URL_TTL
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// A PUT URL that accepts exactly this content type and length (and SHA-256, when
    /// given), once: they are signed headers, and so is `If-None-Match: *`, which makes S3
    /// refuse (412) any PUT to a key that already holds an object. An upload is therefore
    /// write-once: the bytes the upload checker checks are the bytes that stay.
    ///
    /// `headers` are exactly the headers the URL signs (its `X-Amz-SignedHeaders`, minus
    /// `host`, which the client sets itself): the SDK may add others to the request it
    /// presigns (in Lambda, `x-amzn-trace-id`), which are not part of the signature and
    /// which the bucket's CORS rule does not allow.
    pub async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        length: u64,
        checksum_sha256: Option<&str>,
    ) -> Result<Presigned, StoreError> {
        let config =
            PresigningConfig::expires_in(UPLOAD_URL_TTL).map_err(s3_err("presigning an upload"))?;
        let mut req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(i64::try_from(length).unwrap_or(i64::MAX))
            .if_none_match("*");
        if let Some(sum) = checksum_sha256 {
            req = req.checksum_sha256(sum);
        }
        let p = req
            .presigned(config)
            .await
            .map_err(s3_err("presigning an upload"))?;
        let signed = signed_headers(p.uri());
        let mut headers: Vec<(String, String)> = p
            .headers()
            .filter(|(k, _)| signed.iter().any(|s| s.eq_ignore_ascii_case(k)))
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
            .collect();
        headers.sort();
        Ok(Presigned {
            url: p.uri().to_owned(),
            headers,
        })
    }

    /// A GET URL for downloading a file.
    pub async fn presign_get(&self, key: &str) -> Result<String, StoreError> {
        let config = PresigningConfig::expires_in(DOWNLOAD_URL_TTL)
            .map_err(s3_err("presigning a download"))?;
        let p = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(config)
            .await
            .map_err(s3_err("presigning a download"))?;
        Ok(p.uri().to_owned())
    }

    /// The object's size, or `None` if there is no such object.
    pub async fn size(&self, key: &str) -> Result<Option<u64>, StoreError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Ok(Some(
                out.content_length()
                    .map_or(0, |n| u64::try_from(n).unwrap_or(0)),
            )),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(None),
            Err(e) => Err(s3_err("reading an object's size")(e)),
        }
    }

    /// The whole object, or `None` if it is gone (files are at most 10 MiB).
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Ok(Some(
                out.body
                    .collect()
                    .await
                    .map_err(s3_err("reading an object"))?
                    .into_bytes()
                    .to_vec(),
            )),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(None),
            Err(e) => Err(s3_err("reading an object")(e)),
        }
    }

    /// The object if its size is `expected` bytes: one GET whose body is read only when
    /// the length S3 announces matches, so a wrong-sized object costs no transfer. The
    /// bytes returned are the ones every check runs on and the ones hashed.
    pub async fn fetch_sized(&self, key: &str, expected: u64) -> Result<Fetched, StoreError> {
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => {
                let size = out
                    .content_length()
                    .map_or(0, |n| u64::try_from(n).unwrap_or(0));
                if size != expected {
                    return Ok(Fetched::OtherSize(size));
                }
                let bytes = out
                    .body
                    .collect()
                    .await
                    .map_err(s3_err("reading an object"))?
                    .into_bytes()
                    .to_vec();
                // The announced length is a header; the body is what counts.
                match u64::try_from(bytes.len()) {
                    Ok(n) if n == expected => Ok(Fetched::Bytes(bytes)),
                    Ok(n) => Ok(Fetched::OtherSize(n)),
                    Err(_) => Ok(Fetched::OtherSize(u64::MAX)),
                }
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
                Ok(Fetched::Missing)
            }
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => {
                Ok(Fetched::Missing)
            }
            Err(e) => Err(s3_err("reading an object")(e)),
        }
    }

    /// Every object under `prefix` as (key, size, version tag). The tag is the ETag and the
    /// modification time, which together change whenever an object is written again (some
    /// local servers list no ETag). Used by the local event relay and by tests; the API
    /// never lists the bucket.
    pub async fn list(&self, prefix: &str) -> Result<Vec<(String, u64, String)>, StoreError> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_continuation_token(token)
                .send()
                .await
                .map_err(s3_err("listing objects"))?;
            for o in page.contents() {
                if let Some(key) = o.key() {
                    out.push((
                        key.to_owned(),
                        o.size().map_or(0, |n| u64::try_from(n).unwrap_or(0)),
                        format!(
                            "{}@{}",
                            o.e_tag().unwrap_or_default().trim_matches('"'),
                            o.last_modified().map(|t| t.to_string()).unwrap_or_default()
                        ),
                    ));
                }
            }
            token = page.next_continuation_token().map(str::to_owned);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    /// Deletes an object (deleting a missing object succeeds).
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(s3_err("deleting an object"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_headers_are_read_from_the_url() {
        let url = "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256\
                   &X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost%3Bif-none-match\
                   &X-Amz-Signature=00";
        assert_eq!(
            signed_headers(url),
            ["content-length", "content-type", "if-none-match"]
        );
        assert!(signed_headers("https://b/k").is_empty());
    }

    #[test]
    fn hashes_are_base64_sha256() {
        assert_eq!(
            sha256_base64(b""),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }
}
