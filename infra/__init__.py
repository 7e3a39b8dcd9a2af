"""The CDK app: one JanitorStack per account/region, one construct per capability."""
