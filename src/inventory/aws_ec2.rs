//! The dynamic EC2 inventory (`plugin: aws_ec2`), not implemented yet.

/// Loads an aws_ec2 inventory config (`plugin: aws_ec2`) into `inv`.
pub async fn load(
    path: &std::path::Path,
    doc: &crate::yaml::Node,
    inv: &mut super::Inventory,
) -> crate::error::Result<()> {
    let _ = (path, inv);
    Err(doc.error("aws_ec2 inventory not implemented"))
}
