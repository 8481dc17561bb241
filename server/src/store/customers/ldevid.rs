//! Where a customer's devices' LDevIDs come from (RFC 9646): the stored setting.

/// Where a customer's devices' LDevIDs come from (RFC 9646), off by default.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum LdevidIssuer {
    /// No LDevIDs: a device's CSR support is not taken up.
    #[default]
    Off,
    /// ztp's own CA of the customer.
    ZtpCa,
    /// The operator's issuer command (`[ldevid] command`).
    Command,
}

impl LdevidIssuer {
    /// The stored (and wire) name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::ZtpCa => "ztp-ca",
            Self::Command => "command",
        }
    }

    pub(super) fn parse(s: &str) -> Option<Self> {
        [Self::Off, Self::ZtpCa, Self::Command]
            .into_iter()
            .find(|i| i.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::CustomerUpdate;
    use crate::store::testing::{new_customer, store};

    #[tokio::test]
    async fn the_issuer_and_ca_are_stored_with_the_key_sealed() {
        let (store, _dir) = store().await;
        let created = store.insert_customer(&new_customer("acme")).await.unwrap();
        assert_eq!(created.ldevid_issuer, LdevidIssuer::Off, "off by default");
        assert_eq!(created.ldevid_ca, None);
        let ca = ("CA PEM".to_owned(), "KEY PEM".to_owned());
        let updated = store
            .update_customer(
                "acme",
                &CustomerUpdate {
                    ldevid_issuer: Some(LdevidIssuer::ZtpCa),
                    ldevid_ca: Some(ca.clone()),
                    ..CustomerUpdate::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(updated.ldevid_issuer, LdevidIssuer::ZtpCa);
        assert_eq!(updated.ldevid_ca, Some(ca.clone()), "the key opens again");
        let sealed: String =
            sqlx::query_scalar("SELECT ldevid_ca_key_pem FROM customers WHERE name = 'acme'")
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert!(!sealed.contains("KEY PEM"), "sealed at rest: {sealed}");
        let updated = store
            .update_customer(
                "acme",
                &CustomerUpdate {
                    ldevid_issuer: Some(LdevidIssuer::Command),
                    ..CustomerUpdate::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(
            (updated.ldevid_issuer, updated.ldevid_ca),
            (LdevidIssuer::Command, Some(ca)),
            "the CA stays for a switch back"
        );
        assert_eq!(updated.revision, 3, "each change bumps the revision");
        assert_eq!(LdevidIssuer::parse("ztp-ca"), Some(LdevidIssuer::ZtpCa));
        assert_eq!(LdevidIssuer::parse("on"), None);
    }
}
