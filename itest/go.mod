module github.com/downwatch/downwatch/itest

go 1.26.0

require (
	github.com/downwatch/downwatch/openldap_exporter v0.0.0-00010101000000-000000000000
	github.com/downwatch/downwatch/wireguard_exporter v0.0.0-00010101000000-000000000000
	github.com/google/go-cmp v0.7.0
	github.com/prometheus/client_golang v1.25.0
	github.com/prometheus/client_model v0.6.3
	github.com/prometheus/common v0.73.1
	golang.org/x/crypto v0.58.0
	golang.org/x/sys v0.49.0
	golang.zx2c4.com/wireguard/wgctrl v0.0.0-20241231184526-a9ab2273dd10
)

require (
	github.com/Azure/go-ntlmssp v0.1.1 // indirect
	github.com/beorn7/perks v1.0.1 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/go-asn1-ber/asn1-ber v1.5.8 // indirect
	github.com/go-ldap/ldap/v3 v3.4.15 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/josharian/native v1.1.0 // indirect
	github.com/kylelemons/godebug v1.1.0 // indirect
	github.com/mdlayher/genetlink v1.3.2 // indirect
	github.com/mdlayher/netlink v1.7.2 // indirect
	github.com/mdlayher/socket v0.6.0 // indirect
	github.com/munnerz/goautoneg v0.0.0-20191010083416-a7dc8b61c822 // indirect
	github.com/pandatix/go-abnf v0.5.3 // indirect
	github.com/prometheus/procfs v0.22.0 // indirect
	golang.org/x/net v0.61.0 // indirect
	golang.org/x/sync v0.24.0 // indirect
	golang.zx2c4.com/wireguard v0.0.0-20231211153847-12269c276173 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)

replace github.com/downwatch/downwatch/openldap_exporter => ../openldap_exporter

replace github.com/downwatch/downwatch/postfix_exporter => ../postfix_exporter

replace github.com/downwatch/downwatch/dovecot_exporter => ../dovecot_exporter

replace github.com/downwatch/downwatch/wireguard_exporter => ../wireguard_exporter

replace github.com/downwatch/downwatch/gitea_runner_exporter => ../gitea_runner_exporter

replace github.com/downwatch/downwatch/scrapegen => ../scrapegen
