module github.com/downwatch/downwatch/itest

go 1.26.0

require golang.org/x/crypto v0.58.0

replace github.com/downwatch/downwatch/openldap_exporter => ../openldap_exporter

replace github.com/downwatch/downwatch/postfix_exporter => ../postfix_exporter

replace github.com/downwatch/downwatch/dovecot_exporter => ../dovecot_exporter

replace github.com/downwatch/downwatch/wireguard_exporter => ../wireguard_exporter

replace github.com/downwatch/downwatch/gitea_runner_exporter => ../gitea_runner_exporter

replace github.com/downwatch/downwatch/scrapegen => ../scrapegen
