//! Listing as S3's ListObjects (v1, v2) and ListMultipartUploads need it: a k-way merge over the
//! bucket's sorted shards that costs O(page), skipping each common prefix by seeking past it.

use crate::bucket::BucketRef;
use crate::error::{Error, Result};
use crate::meta::{
    prefix_successor, shard_prefix, split_upload_suffix, Family, MetaStore, RangeIter,
    SHARD_PREFIX_LEN,
};
use crate::multipart::{format_upload_id, parse_upload_id};
use crate::record::{ObjectRecord, UploadRecord};
use crate::store::CoreStore;

/// S3's largest page.
pub const MAX_KEYS: usize = 1000;

/// A ListObjects request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    pub prefix: String,
    /// Any non-empty string; `None` (or empty) lists keys without grouping.
    pub delimiter: Option<String>,
    /// List keys after this one (v1 `marker`, v2 `start-after` or the decoded continuation
    /// token). If it is itself a common prefix of this listing, everything under it is skipped.
    pub start_after: Option<String>,
    /// At most [`MAX_KEYS`].
    pub max_keys: usize,
}

/// One key of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectSummary {
    pub key: String,
    pub size: u64,
    pub etag: String,
    pub last_modified_ms: u64,
}

/// One page of a listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPage {
    pub objects: Vec<ObjectSummary>,
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    /// The last key or common prefix returned, when truncated: pass it back as `start_after`
    /// (it is the v1 NextMarker and the content of a v2 continuation token, and stays valid
    /// whatever is written meanwhile).
    pub next_marker: Option<String>,
}

/// A ListMultipartUploads request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadQuery {
    pub prefix: String,
    pub delimiter: Option<String>,
    pub key_marker: Option<String>,
    pub upload_id_marker: Option<String>,
    pub max_uploads: usize,
}

/// An upload in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadInfo {
    pub key: String,
    pub upload_id: String,
    pub initiated_ms: u64,
}

/// One page of ListMultipartUploads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadPage {
    pub uploads: Vec<UploadInfo>,
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    pub next_key_marker: Option<String>,
    pub next_upload_id_marker: Option<String>,
}

/// One shard's sorted range, with its next entry peeked.
struct Cursor {
    prefix: Vec<u8>,
    end: Vec<u8>,
    iter: RangeIter,
    head: Option<(Vec<u8>, Vec<u8>)>,
}

impl Cursor {
    fn advance(&mut self) -> Result<()> {
        self.head = self
            .iter
            .next()
            .transpose()?
            .map(|(k, v)| (k[SHARD_PREFIX_LEN..].to_vec(), v));
        Ok(())
    }
}

/// K-way merge of the shards of one bucket in one family, by key suffix (after the shard prefix).
pub(crate) struct Merge<'a> {
    meta: &'a dyn MetaStore,
    cursors: Vec<Cursor>,
}

impl<'a> Merge<'a> {
    /// Entries whose suffix starts with `scope` and is `>= start`.
    pub(crate) fn new(
        meta: &'a dyn MetaStore,
        family: Family,
        bucket_id: u64,
        shards: u16,
        scope: &[u8],
        start: &[u8],
    ) -> Result<Merge<'a>> {
        let start = if start < scope { scope } else { start };
        let mut cursors = Vec::with_capacity(usize::from(shards));
        for shard in 0..shards {
            let prefix = shard_prefix(family, bucket_id, shard);
            let end = match prefix_successor(scope) {
                Some(s) => [prefix.as_slice(), &s].concat(),
                None => prefix_successor(&prefix).ok_or(Error::Corrupt("shard prefix"))?,
            };
            let from = [prefix.as_slice(), start].concat();
            let mut c = Cursor {
                iter: meta.range(&from, &end),
                prefix,
                end,
                head: None,
            };
            c.advance()?;
            cursors.push(c);
        }
        Ok(Merge { meta, cursors })
    }

    fn min(&self) -> Option<usize> {
        self.cursors
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.head.as_ref().map(|(k, _)| (k, i)))
            .min()
            .map(|(_, i)| i)
    }

    pub(crate) fn peek(&self) -> Option<&[u8]> {
        self.min()
            .and_then(|i| self.cursors[i].head.as_ref().map(|(k, _)| k.as_slice()))
    }

    pub(crate) fn next(&mut self) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let Some(i) = self.min() else {
            return Ok(None);
        };
        let head = self.cursors[i].head.take();
        self.cursors[i].advance()?;
        Ok(head)
    }

    /// Moves every shard to its first entry `>= to`.
    pub(crate) fn seek(&mut self, to: &[u8]) -> Result<()> {
        for c in &mut self.cursors {
            if matches!(&c.head, Some((k, _)) if k.as_slice() < to) {
                let from = [c.prefix.as_slice(), to].concat();
                c.iter = self.meta.range(&from, &c.end);
                c.advance()?;
            }
        }
        Ok(())
    }
}

/// An item of a grouped listing.
pub(crate) enum Item {
    Entry(Vec<u8>, Vec<u8>),
    Prefix(Vec<u8>),
}

/// Runs the listing loop: groups keys under `delimiter` into common prefixes (skipping each
/// prefix with one seek), until `max` items; returns the items and whether more remain.
pub(crate) fn collect(
    merge: &mut Merge<'_>,
    prefix: &[u8],
    delimiter: Option<&[u8]>,
    max: usize,
    key_of: impl for<'k> Fn(&'k [u8]) -> Result<&'k [u8]>,
) -> Result<(Vec<Item>, bool)> {
    let mut items = Vec::new();
    loop {
        if items.len() == max {
            return Ok((items, merge.peek().is_some()));
        }
        let Some((suffix, value)) = merge.next()? else {
            return Ok((items, false));
        };
        let key = key_of(&suffix)?;
        if let Some(d) = delimiter {
            let rest = &key[prefix.len()..];
            if let Some(pos) = find(rest, d) {
                let cp = key[..prefix.len() + pos + d.len()].to_vec();
                match prefix_successor(&cp) {
                    Some(next) => merge.seek(&next)?,
                    None => {
                        items.push(Item::Prefix(cp));
                        return Ok((items, false));
                    }
                }
                items.push(Item::Prefix(cp));
                continue;
            }
        }
        items.push(Item::Entry(suffix, value));
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > haystack.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Where a listing starts after `marker`: just after it, or after everything under it when the
/// marker is itself a common prefix of this listing.
pub(crate) fn start_after(prefix: &[u8], delimiter: Option<&[u8]>, marker: &[u8]) -> Vec<u8> {
    if let Some(d) = delimiter {
        if let Some(rest) = marker.strip_prefix(prefix) {
            if let Some(pos) = find(rest, d) {
                if pos + d.len() == rest.len() {
                    if let Some(next) = prefix_successor(marker) {
                        return next;
                    }
                }
            }
        }
    }
    let mut s = marker.to_vec();
    s.push(0);
    s
}

fn utf8(b: Vec<u8>) -> Result<String> {
    String::from_utf8(b).map_err(|_| Error::Corrupt("key is not UTF-8"))
}

fn delimiter_of(d: &Option<String>) -> Option<&[u8]> {
    d.as_deref().filter(|d| !d.is_empty()).map(str::as_bytes)
}

impl CoreStore {
    /// One page of ListObjects (v1 or v2): keys and common prefixes in UTF-8 binary order.
    ///
    /// Answers only with durable state: it waits for in-flight flushes it may have read.
    pub async fn list_objects(
        &self,
        bucket: impl Into<BucketRef<'_>>,
        query: &ListQuery,
    ) -> Result<ListPage> {
        let result = self.list_objects_now(bucket.into(), query).await;
        self.read_barrier().await?;
        result
    }

    /// One page of ListObjects (v1 or v2): keys and common prefixes in UTF-8 binary order.
    async fn list_objects_now(&self, bucket: BucketRef<'_>, query: &ListQuery) -> Result<ListPage> {
        if query.max_keys > MAX_KEYS {
            return Err(Error::InvalidArgument("max-keys is at most 1000"));
        }
        let b = self.bucket_record(bucket)?;
        let prefix = query.prefix.as_bytes();
        let delimiter = delimiter_of(&query.delimiter);
        let start = query
            .start_after
            .as_deref()
            .map(|m| start_after(prefix, delimiter, m.as_bytes()))
            .unwrap_or_default();
        let mut merge = Merge::new(self.meta(), Family::Object, b.id, b.shards, prefix, &start)?;
        let (items, is_truncated) =
            collect(&mut merge, prefix, delimiter, query.max_keys, |k| Ok(k))?;
        let mut page = ListPage {
            is_truncated,
            ..ListPage::default()
        };
        let mut last = None;
        for item in items {
            match item {
                Item::Entry(key, value) => {
                    let r = ObjectRecord::decode(&value)?;
                    let key = utf8(key)?;
                    last = Some(key.clone());
                    page.objects.push(ObjectSummary {
                        key,
                        size: r.size,
                        etag: r.etag,
                        last_modified_ms: r.last_modified_ms,
                    });
                }
                Item::Prefix(p) => {
                    let p = utf8(p)?;
                    last = Some(p.clone());
                    page.common_prefixes.push(p);
                }
            }
        }
        if is_truncated {
            page.next_marker = last;
        }
        Ok(page)
    }

    /// One page of ListMultipartUploads: uploads by key, then by creation.
    ///
    /// Answers only with durable state: it waits for in-flight flushes it may have read.
    pub async fn list_multipart_uploads(
        &self,
        bucket: impl Into<BucketRef<'_>>,
        query: &UploadQuery,
    ) -> Result<UploadPage> {
        let result = self.list_multipart_uploads_now(bucket.into(), query).await;
        self.read_barrier().await?;
        result
    }

    /// One page of ListMultipartUploads: uploads by key, then by creation.
    async fn list_multipart_uploads_now(
        &self,
        bucket: BucketRef<'_>,
        query: &UploadQuery,
    ) -> Result<UploadPage> {
        if query.max_uploads > MAX_KEYS {
            return Err(Error::InvalidArgument("max-uploads is at most 1000"));
        }
        let b = self.bucket_record(bucket)?;
        let prefix = query.prefix.as_bytes();
        let delimiter = delimiter_of(&query.delimiter);
        let start = match (&query.key_marker, &query.upload_id_marker) {
            (None, _) => Vec::new(),
            (Some(k), Some(id)) if !id.is_empty() => {
                let id =
                    parse_upload_id(id).map_err(|_| Error::InvalidArgument("upload-id-marker"))?;
                let mut s = k.as_bytes().to_vec();
                s.push(0);
                s.extend_from_slice(&id);
                s.push(0);
                s
            }
            (Some(k), _) => {
                let marker = start_after(prefix, delimiter, k.as_bytes());
                if marker.last() == Some(&0) {
                    // After every upload of key `k`: skip `k\0<id>` entries.
                    let mut s = k.as_bytes().to_vec();
                    s.push(1);
                    s
                } else {
                    marker
                }
            }
        };
        let mut merge = Merge::new(self.meta(), Family::Upload, b.id, b.shards, prefix, &start)?;
        let (items, is_truncated) =
            collect(&mut merge, prefix, delimiter, query.max_uploads, |suffix| {
                split_upload_suffix(suffix).map(|(k, _)| k)
            })?;
        let mut page = UploadPage {
            is_truncated,
            ..UploadPage::default()
        };
        let mut last: Option<(String, Option<String>)> = None;
        for item in items {
            match item {
                Item::Entry(suffix, value) => {
                    let (key, id) = split_upload_suffix(&suffix)?;
                    let r = UploadRecord::decode(&value)?;
                    let key = utf8(key.to_vec())?;
                    let upload_id = format_upload_id(&id);
                    last = Some((key.clone(), Some(upload_id.clone())));
                    page.uploads.push(UploadInfo {
                        key,
                        upload_id,
                        initiated_ms: r.initiated_ms,
                    });
                }
                Item::Prefix(p) => {
                    let p = utf8(p)?;
                    last = Some((p.clone(), None));
                    page.common_prefixes.push(p);
                }
            }
        }
        if is_truncated {
            if let Some((k, id)) = last {
                page.next_key_marker = Some(k);
                page.next_upload_id_marker = id;
            }
        }
        Ok(page)
    }
}
