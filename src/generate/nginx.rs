//! nginx.conf for a web server: static files, a health location, and a
//! reverse proxy to the app on the same host.

use super::{Ctx, emit, paths};
use crate::model::{Host, WebServer};

pub(super) fn config(ctx: &Ctx, host: &Host, web: &WebServer) -> String {
    let me = &host.name;
    let app_port = host.app_server().map_or(8000, |a| a.port);
    let mut o = ctx.header("#", &format!("{me}/nginx"));
    emit!(
        o,
        "# Self-contained: no includes, so `nginx -t -c` works anywhere."
    );
    emit!(
        o,
        "# One worker per CPU of the host's size ({}).",
        host.size
    );
    emit!(
        o,
        "worker_processes {};",
        host.size.cpus.ceil().max(1.0) as u32
    );
    emit!(o, "daemon off;");
    emit!(o, "pid /run/nginx-topolab.pid;");
    emit!(o, "error_log stderr warn;");
    emit!(o);
    emit!(o, "events {{");
    emit!(o, "    worker_connections 8192;");
    emit!(o, "}}");
    emit!(o);
    emit!(o, "http {{");
    emit!(o, "    access_log off;");
    emit!(o, "    sendfile on;");
    emit!(o, "    keepalive_timeout 30s;");
    emit!(
        o,
        "    # The load balancers' connections are reused, not closed every 1000."
    );
    emit!(o, "    keepalive_requests 100000;");
    emit!(o, "    server_tokens off;");
    emit!(o, "    default_type application/octet-stream;");
    emit!(o, "    types {{");
    for (mime, ext) in [
        ("text/html", "html"),
        ("text/css", "css"),
        ("text/plain", "txt"),
        ("application/javascript", "js"),
        ("application/json", "json"),
        ("image/svg+xml", "svg"),
        ("image/png", "png"),
    ] {
        emit!(o, "        {mime} {ext};");
    }
    emit!(o, "    }}");
    for (dir, name) in [
        ("client_body", "body"),
        ("proxy", "proxy"),
        ("fastcgi", "fastcgi"),
        ("uwsgi", "uwsgi"),
        ("scgi", "scgi"),
    ] {
        emit!(o, "    {dir}_temp_path /tmp/nginx-{name};");
    }
    emit!(o);
    emit!(
        o,
        "    # The release a static file came from: the `current` link resolved."
    );
    emit!(o, "    map $realpath_root $topolab_release {{");
    emit!(o, "        \"~/releases/(?<release>[^/]+)/\" $release;");
    emit!(o, "        default \"\";");
    emit!(o, "    }}");
    emit!(o);
    emit!(
        o,
        "    # The application server on this host, on its loopback address."
    );
    emit!(o, "    upstream app {{");
    emit!(o, "        server 127.0.0.1:{app_port};");
    emit!(
        o,
        "        # Idle connections kept open to the app, enough for every request"
    );
    emit!(
        o,
        "        # the load balancers can have in flight: below that, a busy Nginx"
    );
    emit!(
        o,
        "        # closes and reopens app connections on every burst."
    );
    emit!(o, "        keepalive 256;");
    emit!(o, "        keepalive_requests 100000;");
    emit!(o, "    }}");
    emit!(o);
    emit!(o, "    server {{");
    emit!(o, "        listen {} default_server;", web.port);
    emit!(o, "        server_name {} _;", ctx.topology.domain);
    emit!(
        o,
        "        # Path header: which web server handled the request."
    );
    emit!(o, "        add_header X-Topolab-Web {me} always;");
    emit!(o);
    emit!(
        o,
        "        # Static files of the host's current release, served by Nginx itself."
    );
    emit!(
        o,
        "        # A deploy switches the `current` link: the next request reads the"
    );
    emit!(o, "        # new release, with no reload.");
    emit!(o, "        location /static/ {{");
    emit!(o, "            alias {}/current/static/;", paths::APP_DIR);
    emit!(o, "            add_header X-Topolab-Web {me} always;");
    emit!(
        o,
        "            add_header X-Topolab-Version $topolab_release always;"
    );
    emit!(o, "        }}");
    emit!(o);
    emit!(
        o,
        "        # Nginx alone is alive (the load balancer checks /health, which"
    );
    emit!(o, "        # goes on to the app).");
    emit!(o, "        location = /nginx-health {{");
    emit!(o, "            default_type text/plain;");
    emit!(o, "            return 200 \"ok\\n\";");
    emit!(o, "        }}");
    emit!(o);
    emit!(o, "        location / {{");
    emit!(o, "            proxy_pass http://app;");
    emit!(o, "            proxy_http_version 1.1;");
    emit!(o, "            proxy_set_header Connection \"\";");
    emit!(o, "            proxy_set_header Host $host;");
    emit!(
        o,
        "            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;"
    );
    emit!(o, "            proxy_set_header X-Topolab-Web {me};");
    emit!(o, "            proxy_connect_timeout 1s;");
    emit!(o, "            proxy_read_timeout 10s;");
    emit!(o, "        }}");
    emit!(o, "    }}");
    emit!(o, "}}");
    o
}
