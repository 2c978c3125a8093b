#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::runtime::serve_event(waitlist_offerer::handle).await
}
