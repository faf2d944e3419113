module github.com/downwatch/downwatch/scrapegen

go 1.26.0

require (
	github.com/VictoriaMetrics/metricsql v0.87.3
	github.com/alecthomas/kingpin/v2 v2.4.0
	github.com/google/go-cmp v0.7.0
	github.com/prometheus/common v0.73.1
	go.yaml.in/yaml/v3 v3.0.6
)

require (
	github.com/VictoriaMetrics/metrics v1.35.3 // indirect
	github.com/alecthomas/units v0.0.0-20240927000941-0f3dac36c52b // indirect
	github.com/valyala/fastrand v1.1.0 // indirect
	github.com/valyala/histogram v1.2.0 // indirect
	github.com/xhit/go-str2duration/v2 v2.1.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
