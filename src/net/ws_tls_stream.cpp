#include "net/detail/ws_tls_stream.hpp"

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cerrno>
#include <climits>
#include <sys/socket.h>

namespace kedge::net::detail {
namespace {

namespace asio = boost::asio;

// A BIO over a non-blocking socket descriptor. OpenSSL's own socket BIO uses write(), which
// raises SIGPIPE on a peer that went away; send() with MSG_NOSIGNAL does not.
int fd_of(BIO* bio) { return static_cast<int>(reinterpret_cast<std::intptr_t>(BIO_get_data(bio))); }

int bio_write(BIO* bio, const char* data, int size) {
    BIO_clear_retry_flags(bio);
    ssize_t n = ::send(fd_of(bio), data, static_cast<std::size_t>(size), MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_write(bio);
    return static_cast<int>(n);
}

int bio_read(BIO* bio, char* data, int size) {
    BIO_clear_retry_flags(bio);
    ssize_t n = ::recv(fd_of(bio), data, static_cast<std::size_t>(size), 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_read(bio);
    return static_cast<int>(n);
}

long bio_ctrl(BIO*, int cmd, long, void*) { return cmd == BIO_CTRL_FLUSH ? 1 : 0; }

int bio_create(BIO* bio) {
    BIO_set_init(bio, 1);
    return 1;
}

BIO_METHOD* socket_method() {
    static BIO_METHOD* method = [] {
        BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "kedge-socket");
        BIO_meth_set_write(m, bio_write);
        BIO_meth_set_read(m, bio_read);
        BIO_meth_set_ctrl(m, bio_ctrl);
        BIO_meth_set_create(m, bio_create);
        return m;
    }();
    return method;
}

SslOutcome classify(SSL* ssl, int ret, std::size_t bytes, int saved_errno) {
    if (ret > 0) return {SslStep::done, bytes, {}};
    switch (SSL_get_error(ssl, ret)) {
        case SSL_ERROR_WANT_READ:
            return {SslStep::want_read};
        case SSL_ERROR_WANT_WRITE:
            return {SslStep::want_write};
        case SSL_ERROR_ZERO_RETURN:
            return {SslStep::failed, 0, asio::error::eof};
        case SSL_ERROR_SYSCALL:
            if (saved_errno != 0)
                return {SslStep::failed, 0,
                        boost::system::error_code(saved_errno, boost::system::system_category())};
            return {SslStep::failed, 0, asio::ssl::error::stream_truncated};
        default: {
            unsigned long e = ERR_peek_last_error();
            if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
                ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
                return {SslStep::failed, 0, asio::ssl::error::stream_truncated};
            if (e == 0) return {SslStep::failed, 0, asio::error::connection_reset};
            return {SslStep::failed, 0,
                    boost::system::error_code(static_cast<int>(e), asio::error::get_ssl_category())};
        }
    }
}

int clamp_int(std::size_t n) { return n > INT_MAX ? INT_MAX : static_cast<int>(n); }

}  // namespace

void SslFree::operator()(SSL* ssl) const noexcept { SSL_free(ssl); }

Result<SslPtr> new_ssl(TlsContext& ctx, int fd, bool server) {
    SslPtr ssl(SSL_new(ctx.native().native_handle()));
    BIO* bio = ssl ? BIO_new(socket_method()) : nullptr;
    if (!bio) {
        ERR_clear_error();
        return Error(errc::crypto_error, "cannot create a TLS session (out of memory?)");
    }
    BIO_set_data(bio, reinterpret_cast<void*>(static_cast<std::intptr_t>(fd)));
    SSL_set_bio(ssl.get(), bio, bio);
    SSL_set_mode(ssl.get(), SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (server)
        SSL_set_accept_state(ssl.get());
    else
        SSL_set_connect_state(ssl.get());
    return ssl;
}

SslOutcome ssl_read(SSL* ssl, void* data, std::size_t size) {
    ERR_clear_error();
    errno = 0;
    std::size_t n = 0;
    int ret = SSL_read_ex(ssl, data, static_cast<std::size_t>(clamp_int(size)), &n);
    return classify(ssl, ret, n, errno);
}

SslOutcome ssl_write(SSL* ssl, const void* data, std::size_t size) {
    ERR_clear_error();
    errno = 0;
    std::size_t n = 0;
    int ret = size == 0 ? 1 : SSL_write_ex(ssl, data, size, &n);
    return classify(ssl, ret, n, errno);
}

SslOutcome ssl_handshake(SSL* ssl) {
    ERR_clear_error();
    errno = 0;
    int ret = SSL_do_handshake(ssl);
    return classify(ssl, ret, 0, errno);
}

SslOutcome ssl_shutdown(SSL* ssl) {
    ERR_clear_error();
    errno = 0;
    int ret = SSL_shutdown(ssl);
    if (ret == 0) return {SslStep::done};  // close_notify sent; not waiting for the peer's
    return classify(ssl, ret, 0, errno);
}

void teardown(boost::beast::role_type, TlsStream& stream, boost::system::error_code& ec) {
    if (stream.ssl() && !stream.tls_failed()) (void)ssl_shutdown(stream.ssl());
    stream.socket().close(ec);
}

}  // namespace kedge::net::detail
