//! Endpoints: which host serves a product's API in a region.
//!
//! Hosts come from the vendor's endpoint metadata (`data/endpoints.json`), which already
//! holds the exceptions to the `<product>.<region>.aliyuncs.com` pattern (ECS
//! `cn-hangzhou-finance`, SLB in `cn-hangzhou` and the finance regions, ROS central
//! everywhere). A region missing from the table falls back to the pattern, as the official
//! SDKs do; OSS hosts always follow `oss-<region>[-internal].aliyuncs.com`.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use serde::Deserialize;

/// An Alibaba Cloud product this crate calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Product {
    /// Elastic Compute Service (RPC, 2014-05-26).
    Ecs,
    /// Virtual Private Cloud (RPC, 2016-04-28).
    Vpc,
    /// Server Load Balancer (RPC, 2014-05-15).
    Slb,
    /// File Storage NAS (RPC, 2017-06-26).
    Nas,
    /// Resource Orchestration Service (RPC, 2019-09-10).
    Ros,
    /// Object Storage Service (REST).
    Oss,
}

impl Product {
    /// The API version this crate speaks.
    pub fn api_version(&self) -> &'static str {
        match self {
            Product::Ecs => "2014-05-26",
            Product::Vpc => "2016-04-28",
            Product::Slb => "2014-05-15",
            Product::Nas => "2017-06-26",
            Product::Ros => "2019-09-10",
            Product::Oss => "2019-05-17",
        }
    }

    /// The product's key in the endpoint metadata.
    fn key(&self) -> &'static str {
        match self {
            Product::Ecs => "Ecs",
            Product::Vpc => "Vpc",
            Product::Slb => "Slb",
            Product::Nas => "NAS",
            Product::Ros => "ROS",
            Product::Oss => "Oss",
        }
    }

    /// The host prefix of the `<product>.<region>.aliyuncs.com` pattern.
    pub(crate) fn prefix(&self) -> &'static str {
        match self {
            Product::Ecs => "ecs",
            Product::Vpc => "vpc",
            Product::Slb => "slb",
            Product::Nas => "nas",
            Product::Ros => "ros",
            Product::Oss => "oss",
        }
    }
}

impl fmt::Display for Product {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// Which network a call goes over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Network {
    /// The public internet (the default).
    #[default]
    Public,
    /// The VPC-internal endpoints, from inside Alibaba Cloud.
    Vpc,
}

/// Why no endpoint could be given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointError {
    /// The region id is not of the form `cn-hangzhou` (lowercase letters, digits, `-`).
    #[error(
        "region '{0}' is not a region id (expected lowercase letters, digits and '-', like cn-hangzhou)"
    )]
    InvalidRegion(String),
    /// The product has no VPC endpoint in that region.
    #[error("{product} has no VPC endpoint in region {region}; use the public network")]
    NoVpcEndpoint {
        /// The product.
        product: Product,
        /// The region.
        region: String,
    },
}

#[derive(Debug, Deserialize)]
struct ProductEndpoints {
    endpoints: HashMap<String, RegionEndpoints>,
}

#[derive(Debug, Deserialize)]
struct RegionEndpoints {
    public: Option<String>,
    vpc: Option<String>,
}

fn table() -> &'static HashMap<String, ProductEndpoints> {
    static TABLE: OnceLock<HashMap<String, ProductEndpoints>> = OnceLock::new();
    TABLE.get_or_init(|| {
        // The file ships inside the crate; a parse failure is caught by the tests below.
        serde_json::from_str(include_str!("../data/endpoints.json")).unwrap_or_default()
    })
}

fn valid_region(region: &str) -> bool {
    !region.is_empty()
        && region.len() <= 64
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !region.starts_with('-')
}

/// The host serving `product` in `region` over `network`.
pub fn endpoint(product: Product, region: &str, network: Network) -> Result<String, EndpointError> {
    if !valid_region(region) {
        return Err(EndpointError::InvalidRegion(region.to_owned()));
    }
    if product == Product::Oss {
        return Ok(match network {
            Network::Public => format!("oss-{region}.aliyuncs.com"),
            Network::Vpc => format!("oss-{region}-internal.aliyuncs.com"),
        });
    }
    let known = table()
        .get(product.key())
        .and_then(|p| p.endpoints.get(region));
    match (network, known) {
        (
            Network::Public,
            Some(RegionEndpoints {
                public: Some(host), ..
            }),
        ) => Ok(host.clone()),
        (
            Network::Vpc,
            Some(RegionEndpoints {
                vpc: Some(host), ..
            }),
        ) => Ok(host.clone()),
        (Network::Vpc, Some(_)) => Err(EndpointError::NoVpcEndpoint {
            product,
            region: region.to_owned(),
        }),
        (Network::Public, _) if product == Product::Ros => Ok("ros.aliyuncs.com".to_owned()),
        (Network::Public, _) => Ok(format!("{}.{region}.aliyuncs.com", product.prefix())),
        (Network::Vpc, None) => Ok(format!("{}-vpc.{region}.aliyuncs.com", product.prefix())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_table_parses_and_covers_every_rpc_product() {
        let t = table();
        for (product, regions) in [
            (Product::Ecs, 39),
            (Product::Vpc, 36),
            (Product::Slb, 37),
            (Product::Nas, 31),
            (Product::Ros, 36),
        ] {
            assert_eq!(t[product.key()].endpoints.len(), regions, "{product}");
        }
    }

    #[test]
    fn regional_hosts_and_the_documented_exceptions() {
        let public = |p, r| endpoint(p, r, Network::Public).unwrap();
        assert_eq!(
            public(Product::Ecs, "cn-hangzhou"),
            "ecs.cn-hangzhou.aliyuncs.com"
        );
        assert_eq!(
            public(Product::Ecs, "cn-hangzhou-finance"),
            "ecs.aliyuncs.com"
        );
        assert_eq!(public(Product::Slb, "cn-hangzhou"), "slb.aliyuncs.com");
        assert_eq!(
            public(Product::Slb, "cn-shenzhen-finance-1"),
            "slb.aliyuncs.com"
        );
        assert_eq!(
            public(Product::Slb, "cn-beijing"),
            "slb.cn-beijing.aliyuncs.com"
        );
        assert_eq!(public(Product::Ros, "eu-central-1"), "ros.aliyuncs.com");
        assert_eq!(
            public(Product::Nas, "ap-southeast-1"),
            "nas.ap-southeast-1.aliyuncs.com"
        );
        assert_eq!(
            public(Product::Oss, "cn-beijing"),
            "oss-cn-beijing.aliyuncs.com"
        );
        assert_eq!(
            endpoint(Product::Oss, "cn-beijing", Network::Vpc).unwrap(),
            "oss-cn-beijing-internal.aliyuncs.com"
        );
        assert_eq!(
            endpoint(Product::Vpc, "cn-hangzhou", Network::Vpc).unwrap(),
            "vpc-vpc.cn-hangzhou.aliyuncs.com"
        );
    }

    #[test]
    fn unknown_regions_follow_the_pattern_and_bad_ones_are_refused() {
        assert_eq!(
            endpoint(Product::Ecs, "xx-newregion-9", Network::Public).unwrap(),
            "ecs.xx-newregion-9.aliyuncs.com"
        );
        assert_eq!(
            endpoint(Product::Ros, "xx-newregion-9", Network::Public).unwrap(),
            "ros.aliyuncs.com"
        );
        for bad in ["", "cn_hangzhou", "CN-HANGZHOU", "evil.com/", "-x"] {
            assert_eq!(
                endpoint(Product::Ecs, bad, Network::Public),
                Err(EndpointError::InvalidRegion(bad.into()))
            );
        }
        let err = endpoint(Product::Ecs, "cn-hangzhou-finance", Network::Vpc).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Ecs has no VPC endpoint in region cn-hangzhou-finance; use the public network"
        );
    }
}
