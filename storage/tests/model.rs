//! Model-based property test: random sequences of bucket, object, multipart and listing
//! operations (with conditional writes, random delimiters and page sizes, and restarts of the
//! engine) must give the same answers from the engine as from a simple in-memory model.

mod common;

use std::collections::BTreeMap;

use cairn_storage::{
    ByteRange, CoreStore, Engine, Error, ListQuery, ObjectInfo, ObjectMeta, PutOptions,
    UploadQuery, WriteCondition,
};
use common::*;
use futures_lite::StreamExt;
use proptest::prelude::*;

const BUCKETS: [&str; 2] = ["bucket-one", "bucket-two"];
const TOKENS: [&str; 6] = ["a", "b", "/", "é", "-", "//"];
const SIZES: [usize; 6] = [0, 10, 64, 65, 300, 20_000];
const DELIMS: [&str; 3] = ["/", "-", "//"];
const PREFIXES: [&str; 5] = ["", "a", "a/", "b/", "é"];
const MIN_PART: usize = 16;

#[derive(Debug, Clone)]
enum Cond {
    Always,
    IfAbsent,
    IfMatchCurrent,
    IfMatchWrong,
}

#[derive(Debug, Clone)]
enum Op {
    CreateBucket(usize),
    DeleteBucket(usize),
    Put {
        b: usize,
        key: String,
        size: usize,
        seed: u8,
        cond: Cond,
    },
    Delete {
        b: usize,
        key: String,
    },
    Get {
        b: usize,
        key: String,
        range: Option<(u8, u64, u64)>,
    },
    Copy {
        b: usize,
        src: String,
        dst_b: usize,
        dst: String,
        replace: bool,
    },
    List {
        b: usize,
        prefix: usize,
        delim: Option<usize>,
        page: usize,
        after: Option<String>,
    },
    CreateUpload {
        b: usize,
        key: String,
    },
    UploadPart {
        upload: usize,
        part: u16,
        size: usize,
        seed: u8,
    },
    Complete {
        upload: usize,
        pick: Vec<bool>,
        corrupt: u8,
    },
    Abort {
        upload: usize,
    },
    ListUploads {
        b: usize,
        page: usize,
        prefix: usize,
        delim: Option<usize>,
    },
    Restart,
}

fn key_strategy() -> impl Strategy<Value = String> {
    prop::collection::vec(0..TOKENS.len(), 1..4)
        .prop_map(|t| t.into_iter().map(|i| TOKENS[i]).collect::<String>())
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let b = 0..BUCKETS.len();
    let cond = prop_oneof![
        3 => Just(Cond::Always),
        1 => Just(Cond::IfAbsent),
        1 => Just(Cond::IfMatchCurrent),
        1 => Just(Cond::IfMatchWrong),
    ];
    prop_oneof![
        2 => b.clone().prop_map(Op::CreateBucket),
        1 => b.clone().prop_map(Op::DeleteBucket),
        10 => (b.clone(), key_strategy(), 0..SIZES.len(), any::<u8>(), cond).prop_map(
            |(b, key, s, seed, cond)| Op::Put { b, key, size: SIZES[s], seed, cond }
        ),
        3 => (b.clone(), key_strategy()).prop_map(|(b, key)| Op::Delete { b, key }),
        3 => (b.clone(), key_strategy(), prop::option::of((0..3u8, 0..400u64, 0..400u64)))
            .prop_map(|(b, key, range)| Op::Get { b, key, range }),
        2 => (b.clone(), key_strategy(), b.clone(), key_strategy(), any::<bool>())
            .prop_map(|(b, src, dst_b, dst, replace)| Op::Copy { b, src, dst_b, dst, replace }),
        4 => (b.clone(), 0..PREFIXES.len(), prop::option::of(0..DELIMS.len()), 1..5usize,
              prop::option::weighted(0.3, key_strategy()))
            .prop_map(|(b, prefix, delim, page, after)| Op::List { b, prefix, delim, page, after }),
        4 => (b.clone(), key_strategy()).prop_map(|(b, key)| Op::CreateUpload { b, key }),
        4 => (0..8usize, 1..5u16, prop_oneof![Just(4usize), Just(MIN_PART), Just(40)], any::<u8>())
            .prop_map(|(upload, part, size, seed)| Op::UploadPart { upload, part, size, seed }),
        2 => (0..8usize, prop::collection::vec(any::<bool>(), 4), 0..6u8)
            .prop_map(|(upload, pick, corrupt)| Op::Complete { upload, pick, corrupt }),
        1 => (0..8usize).prop_map(|upload| Op::Abort { upload }),
        3 => (b, 1..4usize, 0..PREFIXES.len(), prop::option::of(0..DELIMS.len()))
            .prop_map(|(b, page, prefix, delim)| Op::ListUploads { b, page, prefix, delim }),
        1 => Just(Op::Restart),
    ]
}

fn data(size: usize, seed: u8) -> Vec<u8> {
    (0..size)
        .map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed))
        .collect()
}

fn err_name(e: &Error) -> String {
    let s = format!("{e:?}");
    s.split(['(', ' ', '{'])
        .next()
        .unwrap_or_default()
        .to_string()
}

#[derive(Debug, Clone, Default)]
struct MBucket {
    objects: BTreeMap<String, (Vec<u8>, String)>,
}

#[derive(Debug, Clone)]
struct MUpload {
    b: usize,
    key: String,
    id: String,
    live: bool,
    parts: BTreeMap<u16, Vec<u8>>,
}

#[derive(Debug, Clone, Default)]
struct Model {
    buckets: BTreeMap<usize, MBucket>,
    uploads: Vec<MUpload>,
}

type Outcome = Result<String, String>;

fn is_cp(prefix: &str, delim: Option<&str>, marker: &str) -> bool {
    match (delim, marker.strip_prefix(prefix)) {
        (Some(d), Some(rest)) => rest.find(d).is_some_and(|p| p + d.len() == rest.len()),
        _ => false,
    }
}

/// The model's listing: (keys, common prefixes, truncated, next marker).
fn model_list(
    keys: &[String],
    prefix: &str,
    delim: Option<&str>,
    after: Option<&str>,
    max: usize,
) -> (Vec<String>, Vec<String>, bool, Option<String>) {
    let mut items: Vec<(bool, String)> = Vec::new();
    for k in keys {
        if let Some(a) = after {
            if k.as_str() <= a || (is_cp(prefix, delim, a) && k.starts_with(a)) {
                continue;
            }
        }
        if !k.starts_with(prefix) {
            continue;
        }
        let item = match delim.and_then(|d| k[prefix.len()..].find(d).map(|p| (p, d))) {
            Some((p, d)) => (true, k[..prefix.len() + p + d.len()].to_string()),
            None => (false, k.clone()),
        };
        if items.last() != Some(&item) {
            items.push(item);
        }
    }
    let truncated = items.len() > max;
    items.truncate(max);
    let next = if truncated {
        items.last().map(|i| i.1.clone())
    } else {
        None
    };
    let keys = items.iter().filter(|i| !i.0).map(|i| i.1.clone()).collect();
    let cps = items.iter().filter(|i| i.0).map(|i| i.1.clone()).collect();
    (keys, cps, truncated, next)
}

/// A server-side copy as the S3 layer makes one (the engine has no copy of its own): read the
/// source, stream it into the destination with the source's metadata or `replace`.
async fn copy(
    s: &CoreStore,
    src_bucket: &str,
    src_key: &str,
    dst_bucket: &str,
    dst_key: &str,
    replace: Option<ObjectMeta>,
) -> Result<ObjectInfo, Error> {
    let mut source = s.get_object(src_bucket, src_key, None).await?;
    let meta = replace.unwrap_or_else(|| source.info.meta.clone());
    let options = PutOptions {
        meta,
        ..PutOptions::default()
    };
    let mut writer = s.put_object(dst_bucket, dst_key, options).await?;
    while let Some(chunk) = source.body.next().await {
        writer.write(&chunk?).await?;
    }
    writer.commit().await
}

async fn apply(s: &CoreStore, m: &mut Model, op: &Op) -> (Outcome, Outcome) {
    match op {
        Op::Restart => unreachable!("handled by the driver"),
        Op::CreateBucket(b) => {
            let got = s.create_bucket(BUCKETS[*b], "me", "us-east-1").await;
            let want = if m.buckets.contains_key(b) {
                Err("BucketAlreadyOwnedByYou".to_string())
            } else {
                m.buckets.insert(*b, MBucket::default());
                Ok(String::new())
            };
            (got.map(|_| String::new()).map_err(|e| err_name(&e)), want)
        }
        Op::DeleteBucket(b) => {
            let got = s.delete_bucket(BUCKETS[*b]).await;
            let want = match m.buckets.get(b) {
                None => Err("NoSuchBucket".to_string()),
                Some(mb)
                    if !mb.objects.is_empty() || m.uploads.iter().any(|u| u.live && u.b == *b) =>
                {
                    Err("BucketNotEmpty".to_string())
                }
                Some(_) => {
                    m.buckets.remove(b);
                    Ok(String::new())
                }
            };
            (got.map(|_| String::new()).map_err(|e| err_name(&e)), want)
        }
        Op::Put {
            b,
            key,
            size,
            seed,
            cond,
        } => {
            let body = data(*size, *seed);
            let current = m
                .buckets
                .get(b)
                .and_then(|mb| mb.objects.get(key))
                .map(|o| o.1.clone());
            let condition = match cond {
                Cond::Always => WriteCondition::Always,
                Cond::IfAbsent => WriteCondition::IfAbsent,
                Cond::IfMatchCurrent => {
                    WriteCondition::IfMatch(current.clone().unwrap_or("x".into()))
                }
                Cond::IfMatchWrong => WriteCondition::IfMatch("ffff".into()),
            };
            let got = put(
                s,
                BUCKETS[*b],
                key,
                &body,
                PutOptions {
                    condition,
                    ..PutOptions::default()
                },
            )
            .await;
            let want = match m.buckets.get_mut(b) {
                None => Err("NoSuchBucket".to_string()),
                Some(mb) => match (cond, &current) {
                    (Cond::IfAbsent, Some(_)) => Err("PreconditionFailed".to_string()),
                    (Cond::IfMatchCurrent | Cond::IfMatchWrong, None) => {
                        Err("NoSuchKey".to_string())
                    }
                    (Cond::IfMatchWrong, Some(_)) => Err("PreconditionFailed".to_string()),
                    _ => {
                        let etag = md5_hex(&body);
                        mb.objects.insert(key.clone(), (body, etag.clone()));
                        Ok(etag)
                    }
                },
            };
            (got.map_err(|e| err_name(&e)), want)
        }
        Op::Delete { b, key } => {
            let got = s.delete_object(BUCKETS[*b], key).await;
            let want = match m.buckets.get_mut(b) {
                None => Err("NoSuchBucket".to_string()),
                Some(mb) => Ok(mb.objects.remove(key).is_some().to_string()),
            };
            (got.map(|e| e.to_string()).map_err(|e| err_name(&e)), want)
        }
        Op::Get { b, key, range } => {
            let range = range.map(|(kind, x, y)| match kind {
                0 => ByteRange::FromTo(x, y),
                1 => ByteRange::From(x),
                _ => ByteRange::Suffix(x),
            });
            let got = async {
                let mut got = s.get_object(BUCKETS[*b], key, range).await?;
                let mut out = Vec::new();
                while let Some(c) = got.body.next().await {
                    out.extend_from_slice(&c?);
                }
                Ok::<_, Error>(hex::encode(out))
            }
            .await;
            let head = s.head_object(BUCKETS[*b], key).await;
            let want = match m.buckets.get(b) {
                None => Err("NoSuchBucket".to_string()),
                Some(mb) => match mb.objects.get(key) {
                    None => Err("NoSuchKey".to_string()),
                    Some((d, etag)) => {
                        let h = head.expect("head of an existing key");
                        assert_eq!((&h.etag, h.size), (etag, d.len() as u64));
                        let n = d.len() as u64;
                        let span = match range {
                            None => Some((0, n)),
                            Some(ByteRange::FromTo(x, y)) => {
                                (x <= y && x < n).then(|| (x, (y + 1).min(n)))
                            }
                            Some(ByteRange::From(x)) => (x < n).then_some((x, n)),
                            Some(ByteRange::Suffix(x)) => {
                                (x > 0 && n > 0).then(|| (n - x.min(n), n))
                            }
                        };
                        match span {
                            Some((x, y)) => Ok(hex::encode(&d[x as usize..y as usize])),
                            None => Err("InvalidRange".to_string()),
                        }
                    }
                },
            };
            (got.map_err(|e| err_name(&e)), want)
        }
        Op::Copy {
            b,
            src,
            dst_b,
            dst,
            replace,
        } => {
            let meta = meta_with(&[("copied", "yes")]);
            // The source's metadata, which a COPY directive must carry over (it may itself
            // come from an earlier REPLACE copy, so it can equal `meta`).
            let source_meta = s.head_object(BUCKETS[*b], src).await.ok().map(|h| h.meta);
            let replaced = replace.then(|| meta.clone());
            let got = copy(s, BUCKETS[*b], src, BUCKETS[*dst_b], dst, replaced)
                .await
                .map(|o| o.etag);
            let source = m.buckets.get(b).map(|mb| mb.objects.get(src).cloned());
            let want = match (source, m.buckets.contains_key(dst_b)) {
                (None, _) => Err("NoSuchBucket".to_string()),
                (Some(None), _) => Err("NoSuchKey".to_string()),
                (Some(Some(_)), false) => Err("NoSuchBucket".to_string()),
                (Some(Some((data, _))), true) => {
                    let etag = md5_hex(&data);
                    m.buckets
                        .get_mut(dst_b)
                        .unwrap()
                        .objects
                        .insert(dst.clone(), (data, etag.clone()));
                    Ok(etag)
                }
            };
            if got.is_ok() {
                let h = s.head_object(BUCKETS[*dst_b], dst).await.unwrap();
                let expected = if *replace {
                    Some(&meta)
                } else {
                    source_meta.as_ref()
                };
                assert_eq!(Some(&h.meta), expected, "metadata after copy");
            }
            (got.map_err(|e| err_name(&e)), want)
        }
        Op::List {
            b,
            prefix,
            delim,
            page,
            after: first_after,
        } => {
            let prefix = PREFIXES[*prefix];
            let delim = delim.map(|d| DELIMS[d]);
            let mut got_pages = Vec::new();
            let mut want_pages = Vec::new();
            let keys: Vec<String> = m
                .buckets
                .get(b)
                .map(|mb| mb.objects.keys().cloned().collect())
                .unwrap_or_default();
            let mut after: Option<String> = first_after.clone();
            for _ in 0..200 {
                let q = ListQuery {
                    prefix: prefix.into(),
                    delimiter: delim.map(Into::into),
                    start_after: after.clone(),
                    max_keys: *page,
                };
                let got = s.list_objects(BUCKETS[*b], &q).await;
                let want = model_list(&keys, prefix, delim, after.as_deref(), *page);
                if !m.buckets.contains_key(b) {
                    return (
                        got.map(|_| String::new()).map_err(|e| err_name(&e)),
                        Err("NoSuchBucket".into()),
                    );
                }
                let got = got.expect("list");
                let g = (
                    got.objects
                        .iter()
                        .map(|o| o.key.clone())
                        .collect::<Vec<_>>(),
                    got.common_prefixes.clone(),
                    got.is_truncated,
                    got.next_marker.clone(),
                );
                for o in &got.objects {
                    assert_eq!(o.etag, m.buckets[b].objects[&o.key].1);
                }
                after = want.3.clone();
                let done = !want.2;
                got_pages.push(format!("{g:?}"));
                want_pages.push(format!("{want:?}"));
                if done || g != want {
                    break;
                }
            }
            (Ok(got_pages.join("\n")), Ok(want_pages.join("\n")))
        }
        Op::CreateUpload { b, key } => {
            let got = s
                .create_multipart_upload(BUCKETS[*b], key, ObjectMeta::default())
                .await;
            let want = if m.buckets.contains_key(b) {
                Ok(())
            } else {
                Err("NoSuchBucket".to_string())
            };
            match got {
                Ok(id) => {
                    m.uploads.push(MUpload {
                        b: *b,
                        key: key.clone(),
                        id,
                        live: true,
                        parts: BTreeMap::new(),
                    });
                    (Ok(String::new()), want.map(|_| String::new()))
                }
                Err(e) => (Err(err_name(&e)), want.map(|_| String::new())),
            }
        }
        Op::UploadPart {
            upload,
            part,
            size,
            seed,
        } => {
            if m.uploads.is_empty() {
                return (Ok(String::new()), Ok(String::new()));
            }
            let i = upload % m.uploads.len();
            let u = &m.uploads[i];
            let body = data(*size, *seed);
            let got = async {
                let mut w = s.upload_part(BUCKETS[u.b], &u.key, &u.id, *part).await?;
                w.write(&body).await?;
                Ok::<_, Error>(w.commit().await?.etag)
            }
            .await;
            let want = if u.live && m.buckets.contains_key(&u.b) {
                let etag = md5_hex(&body);
                m.uploads[i].parts.insert(*part, body);
                Ok(etag)
            } else if m.buckets.contains_key(&u.b) {
                Err("NoSuchUpload".to_string())
            } else {
                Err("NoSuchBucket".to_string())
            };
            (got.map_err(|e| err_name(&e)), want)
        }
        Op::Complete {
            upload,
            pick,
            corrupt,
        } => {
            if m.uploads.is_empty() {
                return (Ok(String::new()), Ok(String::new()));
            }
            let i = upload % m.uploads.len();
            let u = m.uploads[i].clone();
            let mut list: Vec<(u16, String)> = u
                .parts
                .iter()
                .zip(pick.iter().cycle())
                .filter(|(_, &p)| p)
                .map(|((n, d), _)| (*n, md5_hex(d)))
                .collect();
            match corrupt {
                0 if list.len() > 1 => list.swap(0, 1),
                1 if !list.is_empty() => list[0].1 = "00".into(),
                2 => list.push((9, md5_hex(b"none"))),
                _ => {}
            }
            let got = s
                .complete_multipart_upload(
                    BUCKETS[u.b],
                    &u.key,
                    &u.id,
                    list.clone(),
                    WriteCondition::Always,
                )
                .await;
            let want = if !m.buckets.contains_key(&u.b) {
                Err("NoSuchBucket".to_string())
            } else if !u.live {
                Err("NoSuchUpload".to_string())
            } else if list.is_empty() {
                Err("InvalidArgument".to_string())
            } else {
                // S3's order of checks: the list's order, every part and its ETag, sizes.
                let listed: Vec<Option<&Vec<u8>>> = list
                    .iter()
                    .map(|(n, etag)| u.parts.get(n).filter(|d| md5_hex(d) == *etag))
                    .collect();
                let err = if list.windows(2).any(|w| w[1].0 <= w[0].0) {
                    Some("InvalidPartOrder")
                } else if listed.iter().any(Option::is_none) {
                    Some("InvalidPart")
                } else if listed[..listed.len() - 1]
                    .iter()
                    .any(|d| d.is_some_and(|d| d.len() < MIN_PART))
                {
                    Some("EntityTooSmall")
                } else {
                    None
                };
                match err {
                    Some(e) => Err(e.to_string()),
                    None => {
                        let mut md5s = Vec::new();
                        let mut body = Vec::new();
                        for (n, _) in &list {
                            md5s.extend(hex::decode(md5_hex(&u.parts[n])).unwrap());
                            body.extend_from_slice(&u.parts[n]);
                        }
                        let etag = format!("{}-{}", md5_hex(&md5s), list.len());
                        m.uploads[i].live = false;
                        m.buckets
                            .get_mut(&u.b)
                            .unwrap()
                            .objects
                            .insert(u.key.clone(), (body, etag.clone()));
                        Ok(etag)
                    }
                }
            };
            (got.map(|o| o.etag).map_err(|e| err_name(&e)), want)
        }
        Op::Abort { upload } => {
            if m.uploads.is_empty() {
                return (Ok(String::new()), Ok(String::new()));
            }
            let i = upload % m.uploads.len();
            let u = &m.uploads[i];
            let got = s.abort_multipart_upload(BUCKETS[u.b], &u.key, &u.id).await;
            let want = if !m.buckets.contains_key(&u.b) {
                Err("NoSuchBucket".to_string())
            } else if !u.live {
                Err("NoSuchUpload".to_string())
            } else {
                m.uploads[i].live = false;
                Ok(String::new())
            };
            (got.map(|_| String::new()).map_err(|e| err_name(&e)), want)
        }
        Op::ListUploads {
            b,
            page,
            prefix,
            delim,
        } => {
            let prefix = PREFIXES[*prefix];
            let delim = delim.map(|d| DELIMS[d]);
            let mut entries: Vec<(String, String)> = m
                .uploads
                .iter()
                .filter(|u| u.live && u.b == *b)
                .map(|u| (u.key.clone(), u.id.clone()))
                .collect();
            entries.sort();
            let mut got_pages = Vec::new();
            let mut want_pages = Vec::new();
            let mut q = UploadQuery {
                prefix: prefix.into(),
                delimiter: delim.map(Into::into),
                max_uploads: *page,
                ..UploadQuery::default()
            };
            for _ in 0..100 {
                let got = s.list_multipart_uploads(BUCKETS[*b], &q).await;
                if !m.buckets.contains_key(b) {
                    return (
                        got.map(|_| String::new()).map_err(|e| err_name(&e)),
                        Err("NoSuchBucket".into()),
                    );
                }
                let got = got.expect("list uploads");
                let want = model_uploads(
                    &entries,
                    prefix,
                    delim,
                    q.key_marker.as_deref(),
                    q.upload_id_marker.as_deref(),
                    *page,
                );
                let g = (
                    got.uploads
                        .iter()
                        .map(|u| (u.key.clone(), u.upload_id.clone()))
                        .collect::<Vec<_>>(),
                    got.common_prefixes.clone(),
                    got.is_truncated,
                    got.next_key_marker.clone(),
                    got.next_upload_id_marker.clone(),
                );
                got_pages.push(format!("{g:?}"));
                want_pages.push(format!("{want:?}"));
                if g != want || !want.2 {
                    break;
                }
                q.key_marker = want.3.clone();
                q.upload_id_marker = want.4.clone();
            }
            (Ok(got_pages.join("\n")), Ok(want_pages.join("\n")))
        }
    }
}

type UploadsPage = (
    Vec<(String, String)>,
    Vec<String>,
    bool,
    Option<String>,
    Option<String>,
);

/// The model's ListMultipartUploads page.
fn model_uploads(
    entries: &[(String, String)],
    prefix: &str,
    delim: Option<&str>,
    key_marker: Option<&str>,
    id_marker: Option<&str>,
    max: usize,
) -> UploadsPage {
    let mut items: Vec<(Option<String>, String)> = Vec::new();
    for (k, id) in entries {
        match (key_marker, id_marker) {
            (Some(km), Some(im)) => {
                if k.as_str() < km || (k == km && id.as_str() <= im) {
                    continue;
                }
            }
            (Some(km), None) => {
                if k.as_str() <= km || (is_cp(prefix, delim, km) && k.starts_with(km)) {
                    continue;
                }
            }
            (None, _) => {}
        }
        if !k.starts_with(prefix) {
            continue;
        }
        let item = match delim.and_then(|d| k[prefix.len()..].find(d).map(|p| (p, d))) {
            Some((p, d)) => (None, k[..prefix.len() + p + d.len()].to_string()),
            None => (Some(id.clone()), k.clone()),
        };
        if item.0.is_some() || items.last() != Some(&item) {
            items.push(item);
        }
    }
    let truncated = items.len() > max;
    items.truncate(max);
    let (next_key, next_id) = match (truncated, items.last()) {
        (true, Some((id, k))) => (Some(k.clone()), id.clone()),
        _ => (None, None),
    };
    let uploads = items
        .iter()
        .filter_map(|(id, k)| id.clone().map(|id| (k.clone(), id)))
        .collect();
    let cps = items
        .iter()
        .filter(|i| i.0.is_none())
        .map(|i| i.1.clone())
        .collect();
    (uploads, cps, truncated, next_key, next_id)
}

fn run_case(ops: Vec<Op>) {
    let dir = tempfile::tempdir().unwrap();
    let mut model = Model::default();
    let mut all = vec![Op::CreateBucket(0), Op::CreateBucket(1)];
    all.extend(ops);
    for segment in all.split(|op| matches!(op, Op::Restart)) {
        let engine = Engine::open(config(dir.path(), 2)).unwrap();
        assert_eq!(engine.recovery_report().missing_blobs, 0);
        let segment = segment.to_vec();
        let m = model.clone();
        model = run(&engine, move |s| async move {
            let mut m = m;
            for (i, op) in segment.iter().enumerate() {
                let (got, want) = apply(&s, &mut m, op).await;
                assert_eq!(got, want, "op #{i}: {op:?}");
            }
            m
        });
    }
    // Every freed blob was removed: a re-open finds no orphan and no missing blob.
    let engine = Engine::open(config(dir.path(), 2)).unwrap();
    let r = engine.recovery_report();
    assert_eq!(
        (
            r.orphan_blobs_removed,
            r.stray_files_removed,
            r.missing_blobs
        ),
        (0, 0, 0)
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, max_shrink_iters: 200, ..ProptestConfig::default() })]

    #[test]
    fn engine_agrees_with_model(ops in prop::collection::vec(op_strategy(), 1..80)) {
        run_case(ops);
    }
}
