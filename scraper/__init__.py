"""scraper: targets, relabeling, exposition parsing, scrape loops."""
