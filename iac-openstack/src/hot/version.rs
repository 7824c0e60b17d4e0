//! `heat_template_version`: the versions Heat knows and what each one allows.

use std::fmt;

/// The HOT versions Heat 27 registers (`GET /template_versions`), oldest first, with the
/// release name Heat also accepts for some of them.
const VERSIONS: &[(&str, Option<&str>)] = &[
    ("2013-05-23", None),
    ("2014-10-16", None),
    ("2015-04-30", None),
    ("2015-10-15", None),
    ("2016-04-08", None),
    ("2016-10-14", Some("newton")),
    ("2017-02-24", Some("ocata")),
    ("2017-09-01", Some("pike")),
    ("2018-03-02", Some("queens")),
    ("2018-08-31", Some("rocky")),
    ("2021-04-16", Some("wallaby")),
];

/// A `heat_template_version`, as written (a date or a release name) and as the date it
/// stands for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HotVersion {
    index: usize,
    written: String,
}

impl HotVersion {
    /// Reads a version as written in a template: one of the dates `2013-05-23` …
    /// `2021-04-16` or one of the release names `newton`, `ocata`, `pike`, `queens`,
    /// `rocky`, `wallaby`. Other releases (`stein`, `train`, …, `2023.1`) added no template
    /// version, and Heat refuses them; so does this.
    pub fn parse(written: &str) -> Option<HotVersion> {
        VERSIONS
            .iter()
            .position(|(date, alias)| *date == written || *alias == Some(written))
            .map(|index| HotVersion {
                index,
                written: written.to_owned(),
            })
    }

    /// The version as written in the template (`rocky`, `2013-05-23`).
    pub fn as_written(&self) -> &str {
        &self.written
    }

    /// The date of the version (`rocky` is `2018-08-31`).
    pub fn date(&self) -> &'static str {
        VERSIONS[self.index].0
    }

    /// Every version Heat accepts, as dates and release names.
    pub fn known() -> impl Iterator<Item = &'static str> {
        VERSIONS
            .iter()
            .flat_map(|(date, alias)| std::iter::once(*date).chain(*alias))
    }

    /// True when this version is `date` or later.
    pub(crate) fn at_least(&self, date: &str) -> bool {
        VERSIONS
            .iter()
            .position(|(d, _)| *d == date)
            .is_some_and(|i| self.index >= i)
    }

    /// What `name` is in a value (resource properties, outputs, metadata) of this version.
    pub(crate) fn function(&self, name: &str) -> FunctionUse {
        use FunctionUse::{Available, NotAFunction, Removed};
        let since = |date: &str| {
            if self.at_least(date) {
                Available
            } else {
                NotAFunction
            }
        };
        match name {
            "get_param" | "get_resource" | "get_attr" | "get_file" | "str_replace"
            | "list_join" | "resource_facade" => Available,
            "Fn::Select" if !self.at_least("2015-10-15") => Available,
            "Fn::Select" => Removed,
            "Fn::GetAZs"
            | "Ref"
            | "Fn::Join"
            | "Fn::Split"
            | "Fn::Replace"
            | "Fn::Base64"
            | "Fn::MemberListToMap"
            | "Fn::ResourceFacade" => {
                if self.at_least("2014-10-16") {
                    Removed
                } else {
                    Available
                }
            }
            "digest" | "repeat" => since("2015-04-30"),
            "str_split" => since("2015-10-15"),
            "map_merge" => since("2016-04-08"),
            "yaql" | "map_replace" | "if" => since("2016-10-14"),
            "filter" | "str_replace_strict" => since("2017-02-24"),
            "make_url"
            | "list_concat"
            | "str_replace_vstrict"
            | "list_concat_unique"
            | "contains" => since("2017-09-01"),
            _ => NotAFunction,
        }
    }

    /// True when `name` is a function of the `conditions` section (and of inline
    /// conditions) in this version.
    pub(crate) fn condition_function(&self, name: &str) -> bool {
        match name {
            "get_param" | "equals" | "not" | "and" | "or" => true,
            "yaql" | "contains" => self.at_least("2017-09-01"),
            "if" => self.at_least("2021-04-16"),
            _ => false,
        }
    }

    /// True when the version has the `conditions` section and the `condition` key of
    /// resources and outputs.
    pub(crate) fn has_conditions(&self) -> bool {
        self.at_least("2016-10-14")
    }
}

impl fmt::Display for HotVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written)
    }
}

/// What a single-key map's key is in a given version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FunctionUse {
    /// A function of this version.
    Available,
    /// A function of an older version that this one removed: Heat refuses it.
    Removed,
    /// Not a function here: the map is data.
    NotAFunction,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_release_names() {
        let rocky = HotVersion::parse("rocky").unwrap();
        assert_eq!(rocky.date(), "2018-08-31");
        assert_eq!(rocky.as_written(), "rocky");
        assert_eq!(rocky.to_string(), "rocky");
        assert_eq!(
            HotVersion::parse("2018-08-31").unwrap().date(),
            "2018-08-31"
        );
        for (alias, date) in [
            ("newton", "2016-10-14"),
            ("ocata", "2017-02-24"),
            ("pike", "2017-09-01"),
            ("queens", "2018-03-02"),
            ("wallaby", "2021-04-16"),
        ] {
            assert_eq!(HotVersion::parse(alias).unwrap().date(), date);
        }
        for unknown in ["stein", "train", "zed", "2023.1", "2019-01-01", "Rocky", ""] {
            assert!(HotVersion::parse(unknown).is_none(), "{unknown}");
        }
        assert_eq!(HotVersion::known().count(), 17);
    }

    #[test]
    fn functions_come_and_go_with_versions() {
        let v = |s: &str| HotVersion::parse(s).unwrap();
        assert_eq!(v("2013-05-23").function("Fn::Join"), FunctionUse::Available);
        assert_eq!(v("2014-10-16").function("Fn::Join"), FunctionUse::Removed);
        assert_eq!(
            v("2015-04-30").function("Fn::Select"),
            FunctionUse::Available
        );
        assert_eq!(v("2015-10-15").function("Fn::Select"), FunctionUse::Removed);
        assert_eq!(
            v("2014-10-16").function("repeat"),
            FunctionUse::NotAFunction
        );
        assert_eq!(v("2015-04-30").function("repeat"), FunctionUse::Available);
        assert_eq!(v("2016-04-08").function("if"), FunctionUse::NotAFunction);
        assert_eq!(v("newton").function("if"), FunctionUse::Available);
        assert_eq!(
            v("ocata").function("str_replace_vstrict"),
            FunctionUse::NotAFunction
        );
        assert_eq!(
            v("pike").function("str_replace_vstrict"),
            FunctionUse::Available
        );
        assert_eq!(v("pike").function("equals"), FunctionUse::NotAFunction);
        assert!(v("newton").condition_function("equals"));
        assert!(!v("newton").condition_function("contains"));
        assert!(v("pike").condition_function("contains"));
        assert!(!v("rocky").condition_function("if"));
        assert!(v("wallaby").condition_function("if"));
        assert!(!v("2016-04-08").has_conditions());
        assert!(v("newton").has_conditions());
    }
}
