{-# LANGUAGE OverloadedStrings #-}
-- | A small client for `fgbench serve` (protocol fgbench.serve/1, docs/protocol.md):
-- JSON lines over a Unix domain socket, responses matched to requests by id.
module FgbenchClient
  ( Client
  , connect
  , close
  , request
  , requestStreaming
  , ServerError (..)
  ) where

import Control.Exception (Exception, throwIO)
import Data.Aeson (Value (..), encode, eitherDecodeStrict, object, (.=))
import qualified Data.Aeson.KeyMap as KM
import qualified Data.ByteString as B
import qualified Data.ByteString.Char8 as BC
import qualified Data.ByteString.Lazy as BL
import Data.IORef
import qualified Data.Text as T
import qualified Data.Aeson.Key as K
import Network.Socket (Family (AF_UNIX), SockAddr (SockAddrUnix), Socket, SocketType (Stream), defaultProtocol)
import qualified Network.Socket as NS
import Network.Socket.ByteString (recv, sendAll)

data Client = Client {cSock :: Socket, cBuf :: IORef B.ByteString, cNext :: IORef Int}

-- | An `error` response: its code and message.
data ServerError = ServerError T.Text T.Text deriving (Show)

instance Exception ServerError

connect :: FilePath -> IO Client
connect path = do
  s <- NS.socket AF_UNIX Stream defaultProtocol
  NS.connect s (SockAddrUnix path)
  Client s <$> newIORef B.empty <*> newIORef 1

close :: Client -> IO ()
close = NS.close . cSock

-- | One line from the server.
readLine :: Client -> IO Value
readLine c = do
  buf <- readIORef (cBuf c)
  case BC.elemIndex '\n' buf of
    Just i -> do
      writeIORef (cBuf c) (B.drop (i + 1) buf)
      either (fail . ("bad JSON from the server: " ++)) pure (eitherDecodeStrict (B.take i buf))
    Nothing -> do
      more <- recv (cSock c) 65536
      if B.null more then fail "the server closed the connection" else writeIORef (cBuf c) (buf <> more) >> readLine c

field :: T.Text -> Value -> Maybe Value
field k (Object o) = KM.lookup (K.fromText k) o
field _ _ = Nothing

-- | Sends a request object (an id is added) and returns its final response; stream events
-- (`token`) go to the callback.
requestStreaming :: Client -> [(T.Text, Value)] -> (T.Text -> IO ()) -> IO Value
requestStreaming c fields onToken = do
  n <- atomicModifyIORef' (cNext c) (\i -> (i + 1, i))
  let rid = Number (fromIntegral n)
      body = object (("id" .= rid) : [K.fromText k .= v | (k, v) <- fields])
  sendAll (cSock c) (BL.toStrict (encode body) <> "\n")
  let loop = do
        msg <- readLine c
        if field "id" msg /= Just rid
          then loop
          else case field "type" msg of
            Just (String "token") -> do
              case field "text" msg of
                Just (String t) -> onToken t
                _ -> pure ()
              loop
            Just (String "error") -> do
              let str k = case field k msg of Just (String t) -> t; _ -> ""
              throwIO (ServerError (str "code") (str "message"))
            _ -> pure msg
  loop

request :: Client -> [(T.Text, Value)] -> IO Value
request c fields = requestStreaming c fields (const (pure ()))
