//! The dynamic EC2 inventory (`plugin: aws_ec2`), not implemented yet.
