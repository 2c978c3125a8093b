//! How the domain's enums are stored in PostgreSQL: as the same text names
//! the API uses (their serde names), in `text` columns that a CHECK
//! constraint limits. The domain itself knows nothing of sqlx; this is the
//! one place that teaches sqlx its types.

use serde::{de::DeserializeOwned, Serialize};
use sqlx::{
    encode::IsNull,
    error::BoxDynError,
    postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef},
    Decode, Encode, Postgres, Type,
};

use crate::domain::{
    booking::BookingStatus,
    user::{Role, Tier},
};

fn decode_name<T: DeserializeOwned>(value: PgValueRef<'_>) -> Result<T, BoxDynError> {
    let text = <&str as Decode<Postgres>>::decode(value)?;
    let deserializer = serde::de::value::StrDeserializer::<serde::de::value::Error>::new(text);
    Ok(T::deserialize(deserializer).map_err(|err| format!("stored value {text:?}: {err}"))?)
}

fn encode_name<T: Serialize>(value: &T, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
    let name = serde_json::to_value(value)?;
    let name = name.as_str().ok_or("a stored enum serializes as a string")?;
    <&str as Encode<Postgres>>::encode(name, buf)
}

macro_rules! stored_by_name {
    ($($domain:ty),+) => {$(
        impl Type<Postgres> for $domain {
            fn type_info() -> PgTypeInfo {
                <String as Type<Postgres>>::type_info()
            }

            fn compatible(ty: &PgTypeInfo) -> bool {
                <String as Type<Postgres>>::compatible(ty)
            }
        }

        impl<'r> Decode<'r, Postgres> for $domain {
            fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
                decode_name(value)
            }
        }

        impl Encode<'_, Postgres> for $domain {
            fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
                encode_name(self, buf)
            }
        }
    )+};
}

stored_by_name!(BookingStatus, Role, Tier);
