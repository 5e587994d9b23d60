package simulator

import (
	"net"
	"net/http"
)

// closeConn writes partial (which may be nil) to the client, then takes the
// connection over and closes it: with a TCP reset when rst is true, so the
// client sees "connection reset" instead of a response, or else normally, so
// that a client reading partial sees an unexpected EOF. Where the
// connection cannot be taken over (HTTP/2), the handler is aborted instead,
// which net/http turns into a closed connection or a reset stream.
func closeConn(w http.ResponseWriter, partial []byte, rst bool) {
	rc := http.NewResponseController(w)
	if len(partial) > 0 {
		_, _ = w.Write(partial)
		_ = rc.Flush()
	}
	conn, _, err := rc.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if nc, ok := conn.(interface{ NetConn() net.Conn }); ok { // *tls.Conn
		conn = nc.NetConn()
	}
	if tc, ok := conn.(*net.TCPConn); ok && rst {
		_ = tc.SetLinger(0) // close sends RST, not FIN
	}
	_ = conn.Close()
}
