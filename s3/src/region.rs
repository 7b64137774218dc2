//! Regions: the configured list (the first is the default), which of them a CreateBucket's
//! `LocationConstraint` places a bucket in, and the region a bucket answers with
//! (<https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html>,
//! <https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketLocation.html>).

use cairn_storage::BucketInfo;

use crate::error::{S3Error, S3ErrorCode};
use crate::xml::{empty_document, XmlWriter};

/// The region AWS writes as an empty `LocationConstraint`, and the default when none is
/// configured.
pub const US_EAST_1: &str = "us-east-1";

/// The regions this server serves, in configured order.
#[derive(Debug, Clone, Copy)]
pub struct Regions<'a> {
    list: &'a [String],
}

impl<'a> Regions<'a> {
    pub fn new(list: &'a [String]) -> Regions<'a> {
        Regions { list }
    }

    /// Where a bucket created without a `LocationConstraint` goes: the first configured
    /// region.
    pub fn default_region(&self) -> &'a str {
        self.list.first().map_or(US_EAST_1, String::as_str)
    }

    /// The region a CreateBucket `LocationConstraint` places the bucket in: empty means the
    /// default region, anything else must name a configured region.
    pub fn place(&self, constraint: &str) -> Result<&'a str, S3Error> {
        if constraint.is_empty() {
            return Ok(self.default_region());
        }
        self.list
            .iter()
            .find(|r| r.as_str() == constraint)
            .map(String::as_str)
            .ok_or_else(|| {
                S3Error::code(S3ErrorCode::InvalidLocationConstraint)
                    .with_field("LocationConstraint", constraint)
            })
    }

    /// The region a bucket answers with: the one it was created in, or the default region
    /// for a bucket recorded before buckets kept their region.
    pub fn of<'b>(&self, bucket: &'b BucketInfo) -> &'b str
    where
        'a: 'b,
    {
        bucket.region.as_deref().unwrap_or(self.default_region())
    }
}

/// GetBucketLocation's answer for `region`: AWS answers us-east-1 with an empty element.
pub fn location_constraint_document(region: &str) -> String {
    if region == US_EAST_1 {
        return empty_document("LocationConstraint");
    }
    let mut w = XmlWriter::new("LocationConstraint");
    w.raw(&quick_xml::escape::escape(region));
    w.finish("LocationConstraint")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(region: Option<&str>) -> BucketInfo {
        BucketInfo {
            name: "b".into(),
            id: 1,
            owner: "o".into(),
            created_ms: 1,
            region: region.map(str::to_owned),
        }
    }

    #[test]
    fn constraints_name_a_configured_region_or_none() {
        let list = [
            "ap-southeast-1-bkk".to_owned(),
            "ap-southeast-1-sg".to_owned(),
        ];
        let regions = Regions::new(&list);
        assert_eq!(regions.place("").unwrap(), "ap-southeast-1-bkk");
        assert_eq!(
            regions.place("ap-southeast-1-sg").unwrap(),
            "ap-southeast-1-sg"
        );
        for other in [
            "us-east-1",
            "eu-west-1",
            "ap-southeast-1",
            "AP-SOUTHEAST-1-SG",
        ] {
            let e = regions.place(other).unwrap_err();
            assert_eq!(e.code, S3ErrorCode::InvalidLocationConstraint, "{other}");
            assert_eq!(e.extra, [("LocationConstraint", other.to_owned())]);
        }
        // us-east-1 may be named when it is configured, even when it is not the default.
        let list = ["eu-west-3".to_owned(), US_EAST_1.to_owned()];
        assert_eq!(Regions::new(&list).place(US_EAST_1).unwrap(), US_EAST_1);
        assert_eq!(Regions::new(&[]).place("").unwrap(), US_EAST_1);
    }

    #[test]
    fn a_bucket_answers_its_own_region_else_the_default() {
        let list = ["ap-southeast-1-bkk".to_owned()];
        let regions = Regions::new(&list);
        let placed = bucket(Some("eu-west-3"));
        assert_eq!(regions.of(&placed), "eu-west-3");
        let old = bucket(None);
        assert_eq!(regions.of(&old), "ap-southeast-1-bkk");
    }

    #[test]
    fn us_east_1_is_the_empty_location() {
        let empty = location_constraint_document(US_EAST_1);
        assert!(
            empty.ends_with(
                "<LocationConstraint xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"/>"
            ),
            "{empty}"
        );
        let named = location_constraint_document("ap-southeast-1-sg");
        assert!(
            named.contains(">ap-southeast-1-sg</LocationConstraint>"),
            "{named}"
        );
    }
}
