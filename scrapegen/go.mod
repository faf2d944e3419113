module github.com/downwatch/downwatch/scrapegen

go 1.26.0
