"""Backups: each company's items to S3 on a schedule, and a restore the company runs alone."""
