package acceptance

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// TestKill9LosesNoCommittedRow: PATs created over HTTP (each answered 201
// only after its commit) all survive a SIGKILL of serve and a restart.
func TestKill9LosesNoCommittedRow(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command(binary(t), args...)
		cmd.Dir = dir
		cmd.Stdin = strings.NewReader("correct horse battery staple 9")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return out
	}
	run("migrate", "up") // admin commands never create the database
	run("user", "create", "--email", "kill@example.com", "--password-stdin")

	addr := freeAddr(t)
	p := start(t, dir, []string{"GATEHOUSE_ADDR=" + addr, "GATEHOUSE_ACCESS_LOG=false"}, "serve")
	base := "http://" + addr
	waitReady(t, p, base, 10*time.Second)

	var ids []string
	for i := range 40 {
		body := fmt.Sprintf(`{"description":"token %d"}`, i)
		req, _ := http.NewRequest("POST", base+"/v0/me/tokens", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth("kill@example.com", "correct horse battery staple 9")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var out struct{ ID string }
		json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
			t.Fatalf("create PAT %d: status %d", i, resp.StatusCode)
		}
		ids = append(ids, out.ID)
	}
	// No graceful anything: SIGKILL right after the last acknowledged commit.
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	p.done <- nil

	addr2 := freeAddr(t)
	p2 := start(t, dir, []string{"GATEHOUSE_ADDR=" + addr2}, "serve")
	waitReady(t, p2, "http://"+addr2, 10*time.Second)
	req, _ := http.NewRequest("GET", "http://"+addr2+"/v0/me/tokens", nil)
	req.SetBasicAuth("kill@example.com", "correct horse battery staple 9")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list []struct{ ID string }
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, pat := range list {
		have[pat.ID] = true
	}
	for _, id := range ids {
		if !have[id] {
			t.Errorf("PAT %s was acknowledged before kill -9 and is gone after restart", id)
		}
	}
}

// TestServeTLS: --tls-cert/--tls-key serve HTTPS directly, and the derived
// issuer is https.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	addr := freeAddr(t)
	p := start(t, dir, nil, "serve", "--addr", addr, "--tls-cert", certFile, "--tls-key", keyFile)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := client.Get("https://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				if resp.Header.Get("Strict-Transport-Security") == "" {
					t.Error("no HSTS header under an https issuer")
				}
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("HTTPS not ready: %v\n%s", err, p.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(p.log(), `"issuer":"https://`+addr+`"`) {
		t.Errorf("issuer not https:\n%s", p.log())
	}
}

// TestServeRefusesNewerSchema: a database migrated by a newer gatehouse is
// refused with a message that says so.
func TestServeRefusesNewerSchema(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(binary(t), "migrate", "up")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("migrate up: %v\n%s", err, out)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	// Test fixture: pretend a future release applied migration 999.
	if _, err := db.Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES (999, true)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	cmd = exec.Command(binary(t), "serve", "--addr", freeAddr(t))
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "newer than this gatehouse") {
		t.Fatalf("newer schema accepted: %v\n%s", err, out)
	}
}

func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	var cb, kpem bytes.Buffer
	pem.Encode(&cb, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	pem.Encode(&kpem, &pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, cb.Bytes(), 0o600)
	os.WriteFile(keyFile, kpem.Bytes(), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
