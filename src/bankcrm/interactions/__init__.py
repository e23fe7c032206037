"""Logged contacts with customers (visits, calls, WeCom, SMS, e-mail) and the 360 timeline."""
