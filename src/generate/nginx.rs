//! nginx.conf for a web server: static files, a health location, and a
//! reverse proxy to the app on the same host.

use super::{Ctx, line};
use crate::model::{Host, WebServer};

pub(super) fn config(ctx: &Ctx, host: &Host, web: &WebServer) -> String {
    let me = &host.name;
    let app_port = host.app_server().map_or(8000, |a| a.port);
    let mut o = ctx.header("#", &format!("{me}/nginx"));
    line!(
        o,
        "# Self-contained: no includes, so `nginx -t -c` works anywhere."
    );
    line!(o, "worker_processes 1;");
    line!(o, "daemon off;");
    line!(o, "pid /run/nginx-topolab.pid;");
    line!(o, "error_log stderr warn;");
    line!(o);
    line!(o, "events {{");
    line!(o, "    worker_connections 1024;");
    line!(o, "}}");
    line!(o);
    line!(o, "http {{");
    line!(o, "    access_log off;");
    line!(o, "    sendfile on;");
    line!(o, "    keepalive_timeout 30s;");
    line!(o, "    server_tokens off;");
    line!(o, "    default_type application/octet-stream;");
    line!(o, "    types {{");
    for (mime, ext) in [
        ("text/html", "html"),
        ("text/css", "css"),
        ("text/plain", "txt"),
        ("application/javascript", "js"),
        ("application/json", "json"),
        ("image/svg+xml", "svg"),
        ("image/png", "png"),
    ] {
        line!(o, "        {mime} {ext};");
    }
    line!(o, "    }}");
    for (dir, name) in [
        ("client_body", "body"),
        ("proxy", "proxy"),
        ("fastcgi", "fastcgi"),
        ("uwsgi", "uwsgi"),
        ("scgi", "scgi"),
    ] {
        line!(o, "    {dir}_temp_path /tmp/nginx-{name};");
    }
    line!(o);
    line!(
        o,
        "    # The application server on this host, on its loopback address."
    );
    line!(o, "    upstream app {{");
    line!(o, "        server 127.0.0.1:{app_port};");
    line!(o, "        keepalive 16;");
    line!(o, "    }}");
    line!(o);
    line!(o, "    server {{");
    line!(o, "        listen {} default_server;", web.port);
    line!(o, "        server_name {} _;", ctx.topology.domain);
    line!(
        o,
        "        # Path header: which web server handled the request."
    );
    line!(o, "        add_header X-Topolab-Web {me} always;");
    line!(o);
    line!(o, "        # Static files, served by Nginx itself.");
    line!(o, "        location /static/ {{");
    line!(o, "            alias /etc/topolab/static/;");
    line!(o, "        }}");
    line!(o);
    line!(
        o,
        "        # Nginx alone is alive (the load balancer checks /health, which"
    );
    line!(o, "        # goes on to the app).");
    line!(o, "        location = /nginx-health {{");
    line!(o, "            default_type text/plain;");
    line!(o, "            return 200 \"ok\\n\";");
    line!(o, "        }}");
    line!(o);
    line!(o, "        location / {{");
    line!(o, "            proxy_pass http://app;");
    line!(o, "            proxy_http_version 1.1;");
    line!(o, "            proxy_set_header Connection \"\";");
    line!(o, "            proxy_set_header Host $host;");
    line!(
        o,
        "            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;"
    );
    line!(o, "            proxy_set_header X-Topolab-Web {me};");
    line!(o, "            proxy_connect_timeout 1s;");
    line!(o, "            proxy_read_timeout 10s;");
    line!(o, "        }}");
    line!(o, "    }}");
    line!(o, "}}");
    o
}

pub(super) fn static_page(ctx: &Ctx, host: &Host) -> String {
    format!(
        "<!doctype html>\n<title>{domain}</title>\n<p>Static file served by Nginx on {me}.</p>\n",
        domain = ctx.topology.domain,
        me = host.name
    )
}
