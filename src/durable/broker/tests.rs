use super::*;

#[test]
fn every_publish_error_is_a_counted_result() {
    let errors = [
        PublishError::NotConnected,
        PublishError::Blocked,
        PublishError::Nack,
        PublishError::Returned,
        PublishError::Timeout,
        PublishError::Amqp(std::io::Error::other("reset").into()),
    ];
    for e in errors {
        assert!(Metrics::PUBLISH_RESULTS.contains(&e.label()), "{e}");
    }
}

#[test]
fn routing_keys() {
    assert_eq!(routing_key("github", Some("push")).as_str(), "github.push");
    assert_eq!(
        routing_key("stripe", Some("invoice.paid")).as_str(),
        "stripe.invoice.paid"
    );
    assert_eq!(routing_key("acme", None).as_str(), "acme.event");
    assert_eq!(routing_key("r", Some(&"é".repeat(200))).as_str().len(), 254);
}
