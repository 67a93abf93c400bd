"""What ``dvc repro`` writes for people to read: tables, figures and pages under reports/."""
