//! Tool arguments. Like rmcp's `Parameters`, but a value that does not fit names its
//! field (`arguments.spend: invalid type …`), so an agent can fix its call. rmcp's tool
//! macro finds this type by its name and takes the input schema from `T`.

use std::borrow::Cow;

use rmcp::ErrorData;
use rmcp::handler::server::common::FromContextPart;
use rmcp::handler::server::tool::ToolCallContext;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::DeserializeOwned;

pub struct Parameters<T>(pub T);

impl<T: JsonSchema> JsonSchema for Parameters<T> {
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}

impl<S, T: DeserializeOwned> FromContextPart<ToolCallContext<'_, S>> for Parameters<T> {
    fn from_context_part(context: &mut ToolCallContext<S>) -> Result<Self, ErrorData> {
        let arguments = serde_json::Value::Object(context.arguments.take().unwrap_or_default());
        serde_path_to_error::deserialize(arguments)
            .map(Parameters)
            .map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner();
                let at = if path == "." {
                    "arguments".to_string()
                } else {
                    format!("arguments.{path}")
                };
                ErrorData::invalid_params(format!("invalid arguments: {at}: {inner}"), None)
            })
    }
}
