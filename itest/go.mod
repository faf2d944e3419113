module github.com/downwatch/downwatch/itest

go 1.26.0

require (
	github.com/prometheus/client_model v0.6.3
	github.com/prometheus/common v0.73.1
	golang.org/x/crypto v0.58.0
	golang.org/x/sys v0.49.0
	golang.zx2c4.com/wireguard/wgctrl v0.0.0-20241231184526-a9ab2273dd10
)

require (
	github.com/munnerz/goautoneg v0.0.0-20191010083416-a7dc8b61c822 // indirect
	github.com/pandatix/go-abnf v0.5.3 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)

replace github.com/downwatch/downwatch/openldap_exporter => ../openldap_exporter

replace github.com/downwatch/downwatch/postfix_exporter => ../postfix_exporter

replace github.com/downwatch/downwatch/dovecot_exporter => ../dovecot_exporter

replace github.com/downwatch/downwatch/wireguard_exporter => ../wireguard_exporter

replace github.com/downwatch/downwatch/gitea_runner_exporter => ../gitea_runner_exporter

replace github.com/downwatch/downwatch/scrapegen => ../scrapegen
