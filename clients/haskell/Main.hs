{-# LANGUAGE OverloadedStrings #-}
-- | The orchestrator side: A/B two models loaded in `fgbench serve` on some cases, stream one
-- generation, and show a typed error. Usage: fgbench-hs SOCKET MODEL_A MODEL_B CASE_ID...
module Main (main) where

import Control.Exception (try)
import Data.Aeson (Value (..), toJSON)
import qualified Data.Aeson.Key as K
import qualified Data.Aeson.KeyMap as KM
import qualified Data.Text as T
import qualified Data.Text.IO as TIO
import FgbenchClient
import System.Environment (getArgs)
import System.IO (hFlush, stdout)

get :: [T.Text] -> Value -> Value
get [] v = v
get (k : ks) (Object o) = maybe Null (get ks) (KM.lookup (K.fromText k) o)
get _ _ = Null

main :: IO ()
main = do
  (sock : a : b : cases) <- getArgs
  c <- connect sock
  hello <- request c [("type", "hello"), ("protocol", "fgbench.serve/1")]
  putStrLn ("server: " ++ show (get ["server"] hello))
  let [ta, tb] = map T.pack [a, b]
  mapM_
    ( \cid -> do
        r <- request c [("type", "compare"), ("models", toJSON [ta, tb]), ("case_id", toJSON cid), ("settings", toJSON (KM.fromList [("max_new_tokens", toJSON (32 :: Int))]))]
        mapM_
          ( \m ->
              putStrLn
                ( cid ++ " " ++ T.unpack m ++ ": valid=" ++ show (get ["results", m, "verdict", "valid"] r)
                    ++ " shape=" ++ show (get ["results", m, "shape"] r)
                )
          )
          [ta, tb]
        putStrLn (cid ++ ": identical=" ++ show (get ["identical"] r))
    )
    cases
  putStr "streamed:"
  r <- requestStreaming c [("type", "generate"), ("model", toJSON ta), ("prompt", "<bos>Hello"), ("stream", Bool True), ("settings", toJSON (KM.fromList [("max_new_tokens", toJSON (6 :: Int))]))] (\t -> TIO.putStr (T.pack (show t) <> " ") >> hFlush stdout)
  putStrLn ("\nfinish: " ++ show (get ["finish_reason"] r))
  e <- try (request c [("type", "call"), ("model", "no-such-model"), ("prompt", "x")])
  case e of
    Left (ServerError code _) -> putStrLn ("typed error: " ++ T.unpack code)
    Right _ -> putStrLn "expected an error"
  st <- request c [("type", "stats")]
  putStrLn ("served: " ++ show (get ["served"] st))
  close c
